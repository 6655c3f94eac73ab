#!/usr/bin/env bash
# Printed by `make run` after the demo is played: what runs and how to look at it.
set -euo pipefail
kubeplay=${1:-kubeplay}
"$kubeplay" wait pod/demo --for=condition=Ready --timeout=30s >/dev/null
echo
"$kubeplay" get pods -o wide
cat <<MSG

The demo pod runs. Open http://127.0.0.1:8080/ (the pod's hostPort), or try:
  curl http://127.0.0.1:8080/
  $kubeplay logs demo -c client            # the client fetching the page every 5 s
  $kubeplay exec demo -c web -- wget -qO- http://localhost:8080/
  $kubeplay get pod demo -o yaml            # the Kubernetes view, with status
  $kubeplay describe pod demo
  make down                                   # stop and remove it
MSG
