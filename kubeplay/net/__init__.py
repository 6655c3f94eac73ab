"""The network adapter: netns, bridge, veth, nftables and dnsmasq on this host.

The engine calls these functions to carry out what `kubeplay.plan.network` and
`kubeplay.plan.ipam` decided; they decide nothing themselves. Netlink is used only here and
only behind typed functions; a NetlinkError becomes kubeplay.errors.NetworkError with the
errno kept. Modules: netns (namespaces), links (bridge, veth, addresses, routes, sysctls) over
rtnl (the few rtnetlink requests they need, packed with struct: importing pyroute2 cost
every `play` about 0.15 s of CPU), nft (kubeplay's table), ports (host sockets already
listening), dns (dnsmasq), conntrack (pyroute2's ctnetlink socket, imported when used).
"""
