"""The network adapter: netns, bridge, veth, nftables and dnsmasq on this host.

The engine calls these functions to carry out what `kubeplay.plan.network` and
`kubeplay.plan.ipam` decided; they decide nothing themselves. pyroute2 is used only here and
only behind typed functions; its NetlinkError becomes kubeplay.errors.NetworkError with the
errno kept. Modules: netns (namespaces), links (bridge, veth, addresses, routes, sysctls),
nft (kubeplay's table), ports (host sockets already listening), dns (dnsmasq).
"""
