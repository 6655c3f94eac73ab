"""kubeplay: run Kubernetes YAML for real on one Linux host."""

__version__ = "0.1.0"
