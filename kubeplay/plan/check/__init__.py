"""`kubeplay check`: what a cluster will do differently from kubeplay, found offline.

Pure rules over loaded manifests (no I/O, no clock, no logging): `rules` names every rule
(id, level, source document), `apis` the API versions removed or deprecated per Kubernetes
release, `images`, `podsecurity`, `references`, `resources` and `unplayed` the rules of each
group, and `findings.compute_findings` runs them all in input order. `services.check` gathers
what the rules need from the host (the image store, registries.conf) and the CLI renders.
"""
