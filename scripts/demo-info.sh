#!/usr/bin/env bash
# Printed by `make run` after the demo is played: what runs and how to reach it.
set -euo pipefail
kubeplay=${1:-kubeplay}
"$kubeplay" rollout status deployment/hello --timeout 60 >/dev/null
"$kubeplay" wait pod/client --for=condition=Ready --timeout=30s >/dev/null
echo
"$kubeplay" get pods -o wide
echo
"$kubeplay" get svc hello
ip=$("$kubeplay" get svc hello | awk 'NR == 2 {print $3}')
node_port=$("$kubeplay" get svc hello | awk 'NR == 2 {split($5, p, "[:/]"); print p[2]}')
tries=(
  "curl http://127.0.0.1:$node_port/" "the Service's nodePort on the host"
  "curl http://$ip/" "its cluster IP: the host reaches it too"
  "$kubeplay logs client" "the client's GET http://hello/ every 5 s"
  "$kubeplay exec client -- wget -qO- http://hello.default.svc.cluster.local/" "full name"
  "$kubeplay describe svc hello" "its endpoints: the Ready replicas"
  "$kubeplay get endpointslices" "as the EndpointSlice controller keeps them"
  "$kubeplay scale deployment/hello --replicas 3" "a third endpoint"
  "$kubeplay port-forward svc/hello 8080:80" "as kubectl: http://127.0.0.1:8080/"
  "make down" "stop and remove it all"
)
width=0 # of the commands that fit in 56 columns; a longer one pushes its comment over
for ((i = 0; i < ${#tries[@]}; i += 2)); do
  if ((${#tries[i]} > width && ${#tries[i]} <= 56)); then width=${#tries[i]}; fi
done
echo
echo "The demo runs: two replicas of the Deployment hello behind the Service hello (cluster IP"
echo "$ip), and a client pod that reaches it by name. Try:"
for ((i = 0; i < ${#tries[@]}; i += 2)); do
  printf '  %-*s  # %s\n' "$width" "${tries[i]}" "${tries[i + 1]}"
done
