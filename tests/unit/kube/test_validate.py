"""Validating manifests: what the API server would reject, and what kubeplay warns it ignores.

Errors follow the strict Kubernetes schema and the API server's own rules (Pod names are DNS-1123
subdomains, container names DNS-1123 labels and unique, every container has an image, one object
per kind/namespace/name). Warnings name each valid field kubeplay does not implement.
"""

from __future__ import annotations

import textwrap

import pytest

from kubeplay.errors import ManifestError, UsageError
from kubeplay.kube import fields, loader, validate
from kubeplay.kube.objects import KubeObject

POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: web
spec:
  containers:
  - name: app
    image: nginx
"""


def _objects(text: str) -> list[KubeObject]:
    return loader.load_text(textwrap.dedent(text), source="pod.yaml")


def _pod(spec_yaml: str, *, name: str = "web") -> str:
    """A Pod document whose spec is `spec_yaml` (indented by two spaces under `spec:`)."""
    spec = textwrap.indent(textwrap.dedent(spec_yaml), "  ")
    return f"apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\nspec:\n{spec}"


def _errors(text: str) -> list[str]:
    with pytest.raises(ManifestError) as caught:
        validate.validate(_objects(text))
    return str(caught.value).splitlines()


def _warnings(text: str) -> list[str]:
    return [w.render() for w in validate.validate(_objects(text))]


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(POD, id="minimal-pod"),
        pytest.param(
            """\
            apiVersion: v1
            kind: Namespace
            metadata: {name: dev}
            ---
            apiVersion: v1
            kind: ConfigMap
            metadata: {name: settings, namespace: dev}
            data: {mode: fast}
            ---
            apiVersion: v1
            kind: Secret
            metadata: {name: creds, namespace: dev}
            stringData: {password: s3cret}
            """,
            id="namespace-configmap-secret",
        ),
        pytest.param(
            POD + "---\n" + POD.replace("name: web", "name: web\n  namespace: dev"),
            id="same-name-other-namespace-is-no-duplicate",
        ),
        pytest.param(
            POD + "---\n" + POD.replace("kind: Pod", "kind: ConfigMap").split("spec:")[0],
            id="same-name-other-kind-is-no-duplicate",
        ),
        pytest.param(
            _pod(
                """\
                restartPolicy: OnFailure
                terminationGracePeriodSeconds: 5
                hostname: h
                subdomain: s
                shareProcessNamespace: true
                hostNetwork: false
                hostPID: false
                hostIPC: false
                initContainers:
                - name: setup
                  image: busybox
                  restartPolicy: Always
                containers:
                - name: app
                  image: nginx
                  imagePullPolicy: IfNotPresent
                  command: [nginx]
                  args: [-g, daemon off;]
                  workingDir: /srv
                  env: [{name: MODE, value: fast}]
                  ports: [{containerPort: 80, name: http, protocol: TCP, hostPort: 8080,
                           hostIP: 127.0.0.1}]
                  tty: true
                  stdin: true
                  stdinOnce: true
                  terminationMessagePath: /dev/termination-log
                  terminationMessagePolicy: File
                  securityContext: {runAsUser: 1000, runAsGroup: 1000}
                  livenessProbe: null
                  volumeMounts: []
                """
            ),
            id="every-implemented-field-no-warning",
        ),
        pytest.param(
            _pod("containers: [{name: app, image: nginx}]", name="web.example-1"),
            id="pod-name-dns-subdomain",
        ),
    ],
)
def test_valid_without_warnings(text: str) -> None:
    assert validate.validate(_objects(text)) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            _pod("containers:\n- name: app\n  imagee: nginx\n"),
            "pod.yaml:8: document 1 (Pod web): spec.containers[0].imagee: unknown field",
            id="unknown-field",
        ),
        pytest.param(
            POD + "status2: {}\n",
            "pod.yaml:9: document 1 (Pod web): status2: unknown field",
            id="unknown-top-level-field",
        ),
        pytest.param(
            _pod("containers:\n- name: app\n  image: nginx\n  ports: [{containerPort: '80'}]\n"),
            "pod.yaml:9: document 1 (Pod web): spec.containers[0].ports[0].containerPort: "
            "must be integer, got string '80'",
            id="wrong-type-integer",
        ),
        pytest.param(
            _pod("containers:\n- name: app\n  image: nginx\n  tty: 'yes'\n"),
            "pod.yaml:9: document 1 (Pod web): spec.containers[0].tty: "
            "must be boolean, got string 'yes'",
            id="wrong-type-boolean",
        ),
        pytest.param(
            _pod("containers:\n- name: app\n  image: nginx\n  resources: {limits: {cpu: [1]}}\n"),
            "pod.yaml:9: document 1 (Pod web): spec.containers[0].resources.limits.cpu: "
            "must be string or number, got array",
            id="wrong-type-quantity",
        ),
        pytest.param(
            _pod("containers: nginx\n"),
            "pod.yaml:6: document 1 (Pod web): spec.containers: must be array, got string 'nginx'",
            id="wrong-type-containers",
        ),
        pytest.param(
            _pod("containers:\n- image: nginx\n"),
            "pod.yaml:7: document 1 (Pod web): spec.containers[0].name: required",
            id="missing-container-name",
        ),
        pytest.param(
            POD.replace("kind: Pod", "kind: pod"),
            "pod.yaml:2: document 1 (pod web): kind: must be one of Pod, got string 'pod'",
            id="kind-is-case-sensitive",
        ),
        pytest.param(
            "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n",
            "pod.yaml:2: document 1 (Widget w): unsupported kind Widget for apiVersion "
            "example.com/v1",
            id="unknown-kind-custom-resource",
        ),
        pytest.param(
            POD.replace("apiVersion: v1", "apiVersion: apps/v1"),
            "pod.yaml:2: document 1 (Pod web): unsupported kind Pod for apiVersion apps/v1",
            id="kind-in-wrong-api-group",
        ),
        pytest.param(
            "apiVersion: v1\nkind: Affinity\nmetadata: {name: a}\n",
            "pod.yaml:2: document 1 (Affinity a): unsupported kind Affinity for apiVersion v1",
            id="nested-type-is-not-a-kind",
        ),
        pytest.param(
            "apiVersion: v1\nkind: Pod\nspec:\n  containers: [{name: app, image: nginx}]\n",
            "pod.yaml:1: document 1 (Pod ): metadata.name: required",
            id="missing-name",
        ),
        pytest.param(
            "apiVersion: v1\nkind: Pod\nmetadata: {generateName: web-}\n"
            "spec:\n  containers: [{name: app, image: nginx}]\n",
            "pod.yaml:3: document 1 (Pod web-): metadata.name: required",
            id="generate-name-is-not-a-name-as-in-kubectl-apply",
        ),
        pytest.param(
            _pod("containers:\n- name: app\n", name="web"),
            "pod.yaml:7: document 1 (Pod web): spec.containers[0].image: required",
            id="missing-image",
        ),
        pytest.param(
            _pod("containers:\n- name: app\n  image: ''\n"),
            "pod.yaml:8: document 1 (Pod web): spec.containers[0].image: required",
            id="empty-image",
        ),
        pytest.param(
            _pod("initContainers:\n- name: setup\ncontainers:\n- name: app\n  image: nginx\n"),
            "pod.yaml:7: document 1 (Pod web): spec.initContainers[0].image: required",
            id="missing-image-init-container",
        ),
        pytest.param(
            _pod("containers: []\n"),
            "pod.yaml:6: document 1 (Pod web): spec.containers: required: at least one container",
            id="pod-without-containers",
        ),
        pytest.param(
            _pod("containers: [{name: app, image: nginx}]", name="Web_1"),
            "pod.yaml:4: document 1 (Pod Web_1): metadata.name: invalid name 'Web_1': must be a "
            "DNS-1123 subdomain (at most 253 lowercase letters, digits, '-' or '.', each part "
            "starting and ending with a letter or digit)",
            id="invalid-pod-name",
        ),
        pytest.param(
            _pod("containers: [{name: app, image: nginx}]", name="a" * 254),
            f"pod.yaml:4: document 1 (Pod {'a' * 254}): metadata.name: invalid name "
            f"'{'a' * 254}': must be a DNS-1123 subdomain (at most 253 lowercase letters, digits, "
            "'-' or '.', each part starting and ending with a letter or digit)",
            id="pod-name-too-long",
        ),
        pytest.param(
            POD.replace("name: web", "name: web\n  namespace: Dev.Team"),
            "pod.yaml:5: document 1 (Pod web): metadata.namespace: invalid namespace 'Dev.Team': "
            "must be a DNS-1123 label (at most 63 lowercase letters, digits or '-', starting and "
            "ending with a letter or digit)",
            id="invalid-namespace",
        ),
        pytest.param(
            "apiVersion: v1\nkind: Namespace\nmetadata: {name: dev.team}\n",
            "pod.yaml:3: document 1 (Namespace dev.team): metadata.name: invalid name "
            "'dev.team': must be a DNS-1123 label (at most 63 lowercase letters, digits or '-', "
            "starting and ending with a letter or digit)",
            id="namespace-name-is-a-label",
        ),
        pytest.param(
            _pod("containers:\n- name: App_1\n  image: nginx\n"),
            "pod.yaml:7: document 1 (Pod web): spec.containers[0].name: invalid name 'App_1': "
            "must be a DNS-1123 label (at most 63 lowercase letters, digits or '-', starting and "
            "ending with a letter or digit)",
            id="invalid-container-name",
        ),
        pytest.param(
            _pod(
                "containers:\n- name: app\n  image: nginx\n- name: app\n  image: redis\n",
            ),
            "pod.yaml:9: document 1 (Pod web): spec.containers[1].name: duplicate container "
            "name 'app' (also spec.containers[0].name)",
            id="duplicate-container-names",
        ),
        pytest.param(
            _pod(
                "initContainers:\n- name: app\n  image: busybox\n"
                "containers:\n- name: app\n  image: nginx\n",
            ),
            "pod.yaml:10: document 1 (Pod web): spec.containers[0].name: duplicate container "
            "name 'app' (also spec.initContainers[0].name)",
            id="duplicate-container-name-across-init-containers",
        ),
        pytest.param(
            _pod("restartPolicy: Sometimes\ncontainers: [{name: app, image: nginx}]\n"),
            "pod.yaml:6: document 1 (Pod web): spec.restartPolicy: unsupported value "
            "'Sometimes': must be one of Always, OnFailure, Never",
            id="invalid-restart-policy",
        ),
        pytest.param(
            _pod("containers:\n- {name: app, image: nginx, imagePullPolicy: always}\n"),
            "pod.yaml:7: document 1 (Pod web): spec.containers[0].imagePullPolicy: unsupported "
            "value 'always': must be one of Always, IfNotPresent, Never",
            id="invalid-image-pull-policy",
        ),
        pytest.param(
            _pod(
                "initContainers:\n- {name: s, image: busybox, restartPolicy: Never}\n"
                "containers: [{name: app, image: nginx}]\n"
            ),
            "pod.yaml:7: document 1 (Pod web): spec.initContainers[0].restartPolicy: "
            "unsupported value 'Never': must be one of Always",
            id="init-container-restart-policy-only-always",
        ),
        pytest.param(
            _pod("containers:\n- name: app\n  image: nginx\n  ports: [{containerPort: 70000}]\n"),
            "pod.yaml:9: document 1 (Pod web): spec.containers[0].ports[0].containerPort: "
            "invalid port 70000: must be between 1 and 65535",
            id="container-port-out-of-range",
        ),
        pytest.param(
            _pod(
                "containers:\n- name: app\n  image: nginx\n  ports: [{containerPort: 80, "
                "protocol: tcp}]\n"
            ),
            "pod.yaml:9: document 1 (Pod web): spec.containers[0].ports[0].protocol: "
            "unsupported value 'tcp': must be one of TCP, UDP, SCTP",
            id="port-protocol-is-case-sensitive",
        ),
        pytest.param(
            POD + "---\n" + POD,
            "pod.yaml:13: document 2 (Pod web): metadata.name: duplicate Pod default/web: first "
            "defined in pod.yaml:1 (document 1)",
            id="duplicate-objects",
        ),
        pytest.param(
            POD + "---\n" + POD.replace("name: web", "name: web\n  namespace: default"),
            "pod.yaml:13: document 2 (Pod web): metadata.name: duplicate Pod default/web: first "
            "defined in pod.yaml:1 (document 1)",
            id="duplicate-objects-explicit-default-namespace",
        ),
        pytest.param(
            """\
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: web}
            spec:
              selector: {matchLabels: {app: web}}
              template:
                metadata: {labels: {app: web}}
                spec:
                  containers:
                  - name: app
            """,
            "pod.yaml:10: document 1 (Deployment web): spec.template.spec.containers[0].image: "
            "required",
            id="deployment-template-missing-image",
        ),
        pytest.param(
            """\
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: web}
            spec:
              selector: {matchLabels: {app: web}}
              template:
                metadata: {labels: {app: db}}
                spec:
                  containers: [{name: app, image: nginx}]
            """,
            "pod.yaml:7: document 1 (Deployment web): spec.template.metadata.labels: `selector` "
            "does not match template `labels`",
            id="deployment-selector-must-match-template-labels",
        ),
        pytest.param(
            """\
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: web}
            spec:
              selector: {}
              template:
                spec:
                  containers: [{name: app, image: nginx}]
            """,
            "pod.yaml:5: document 1 (Deployment web): spec.selector: empty selector is invalid "
            "for deployment",
            id="deployment-empty-selector",
        ),
        pytest.param(
            """\
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: web}
            spec:
              selector:
                matchExpressions: [{key: tier, operator: In, values: [front]}]
              template:
                metadata: {labels: {tier: back}}
                spec:
                  containers: [{name: app, image: nginx}]
            """,
            "pod.yaml:8: document 1 (Deployment web): spec.template.metadata.labels: `selector` "
            "does not match template `labels`",
            id="deployment-match-expressions-must-match-template-labels",
        ),
        pytest.param(
            """\
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: web}
            spec:
              selector: {matchLabels: {app: web}}
              template:
                metadata: {labels: {app: web}}
                spec:
                  restartPolicy: Never
                  containers: [{name: app, image: nginx}]
            """,
            "pod.yaml:9: document 1 (Deployment web): spec.template.spec.restartPolicy: "
            "unsupported value 'Never': must be Always",
            id="deployment-pods-restart-always",
        ),
        pytest.param(
            """\
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: web}
            spec:
              replicas: -1
              selector: {matchLabels: {app: web}}
              template:
                metadata: {labels: {app: web}}
                spec:
                  containers: [{name: app, image: nginx}]
            """,
            "pod.yaml:5: document 1 (Deployment web): spec.replicas: invalid value -1: "
            "must be 0 or more",
            id="deployment-negative-replicas",
        ),
        pytest.param(
            """\
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: web}
            spec:
              selector: {matchLabels: {app: web}}
              template:
                metadata: {labels: {app: web}}
                spec:
                  activeDeadlineSeconds: 10
                  containers: [{name: app, image: nginx}]
            """,
            "pod.yaml:9: document 1 (Deployment web): spec.template.spec.activeDeadlineSeconds: "
            "forbidden: activeDeadlineSeconds in ReplicaSet is not supported",
            id="deployment-active-deadline-forbidden",
        ),
        pytest.param(
            """\
            apiVersion: batch/v1
            kind: CronJob
            metadata: {name: nightly}
            spec:
              schedule: "0 3 * * *"
              jobTemplate:
                spec:
                  template:
                    spec:
                      restartPolicy: OnFailure
                      containers: [{name: Job, image: busybox}]
            """,
            "pod.yaml:11: document 1 (CronJob nightly): "
            "spec.jobTemplate.spec.template.spec.containers[0].name: invalid name 'Job': must be "
            "a DNS-1123 label (at most 63 lowercase letters, digits or '-', starting and ending "
            "with a letter or digit)",
            id="cronjob-template-invalid-container-name",
        ),
    ],
)
def test_first_error(text: str, expected: str) -> None:
    assert _errors(text)[0] == expected


def test_all_errors_listed_first_one_in_fields() -> None:
    text = (
        _pod("containers:\n- name: app\n  imagee: nginx\n")
        + "---\n"
        + _pod("containers:\n- name: app\n", name="db")
    )
    with pytest.raises(ManifestError) as caught:
        validate.validate(_objects(text))
    error = caught.value
    assert (error.source, error.doc_index, error.kind, error.name) == ("pod.yaml", 1, "Pod", "web")
    assert (error.path, error.line) == ("spec.containers[0].imagee", 8)
    assert str(error).splitlines() == [
        "pod.yaml:8: document 1 (Pod web): spec.containers[0].imagee: unknown field",
        "pod.yaml:16: document 2 (Pod db): spec.containers[0].image: required",
    ]


def test_each_unknown_field_reported() -> None:
    lines = _errors(_pod("containers: [{name: app, image: nginx}]\nfoo: 1\nbar: 2\n"))
    assert lines == [
        "pod.yaml:7: document 1 (Pod web): spec.foo: unknown field",
        "pod.yaml:8: document 1 (Pod web): spec.bar: unknown field",
    ]


WORKLOAD = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: app, image: nginx}]
"""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            WORKLOAD.replace("kind: Deployment", "kind: DaemonSet"),
            [],
            id="daemonset-runs-no-kind-warning",
        ),
        pytest.param(WORKLOAD, [], id="deployment-replicas-selector-template"),
        pytest.param(
            WORKLOAD.replace(
                "spec:\n  selector",
                "spec:\n  strategy: {type: Recreate}\n  revisionHistoryLimit: 3\n  selector",
            ).replace(
                "containers: [{name: app, image: nginx}]",
                "nodeSelector: {disk: ssd}\n      containers: [{name: app, image: nginx}]",
            ),
            [  # the rollout fields are the Deployment controller's: no warning
                "pod.yaml: document 1 (Deployment web): spec.template.spec.nodeSelector: "
                "no effect on a single host",
            ],
            id="deployment-rolling-update-fields-played-template-fields-warned",
        ),
        pytest.param(
            "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {ports: [{port: 80}]}\n",
            [],
            id="service-without-selector-takes-user-endpointslices",
        ),
        pytest.param(
            _pod(
                """\
                containers:
                - name: app
                  image: nginx
                  livenessProbe: {httpGet: {path: /, port: 80}}
                  lifecycle: {preStop: {exec: {command: [stop]}}}
                  volumeMounts: [{name: data, mountPath: /data}]
                  envFrom: [{configMapRef: {name: settings}}]
                  env:
                  - name: POD
                    valueFrom: {fieldRef: {fieldPath: metadata.name}}
                  securityContext: {runAsUser: 1, privileged: true}
                volumes: [{name: data, emptyDir: {}}]
                setHostnameAsFQDN: true
                activeDeadlineSeconds: 60
                securityContext: {runAsNonRoot: true}
                """
            ),
            [],
            id="implemented-pod-fields-are-not-warned",
        ),
        pytest.param(
            _pod(
                """\
                containers:
                - name: app
                  image: nginx
                  restartPolicy: Always
                initContainers:
                - name: setup
                  image: busybox
                """
            ),
            [
                "pod.yaml: document 1 (Pod web): spec.containers[0].restartPolicy: "
                "not supported yet, ignored",
            ],
            id="container-restart-policy-only-on-init-containers",
        ),
        pytest.param(
            _pod(
                """\
                nodeSelector: {disk: ssd}
                tolerations: [{operator: Exists}]
                serviceAccountName: builder
                priorityClassName: high
                imagePullSecrets: [{name: registry}]
                containers: [{name: app, image: nginx}]
                """
            ),
            [
                f"pod.yaml: document 1 (Pod web): spec.{field}: no effect on a single host"
                for field in (
                    "nodeSelector",
                    "tolerations",
                    "serviceAccountName",
                    "priorityClassName",
                    "imagePullSecrets",
                )
            ],
            id="no-op-on-one-host",
        ),
        pytest.param(
            _pod(
                "containers:\n- {name: app, image: nginx, resources: {limits: {memory: 1Gi, "
                "hugepages-2Mi: 2Mi}, requests: {ephemeral-storage: 1Gi}}}\n"
            ),
            [
                "pod.yaml: document 1 (Pod web): spec.containers[0].resources.limits."
                "hugepages-2Mi: not enforced yet",
                "pod.yaml: document 1 (Pod web): spec.containers[0].resources.requests."
                "ephemeral-storage: not enforced yet",
            ],
            id="resources-other-than-cpu-and-memory-not-enforced",
        ),
        pytest.param(
            POD.replace("name: web", "name: web\n  uid: '1234'\n  finalizers: [x]")
            + "status: {phase: Running}\n",
            [
                "pod.yaml: document 1 (Pod web): metadata.uid: set by the server, ignored",
                "pod.yaml: document 1 (Pod web): metadata.finalizers: not supported yet, ignored",
                "pod.yaml: document 1 (Pod web): status: set by the server, ignored",
            ],
            id="server-set-fields",
        ),
    ],
)
def test_warnings(text: str, expected: list[str]) -> None:
    assert _warnings(text) == expected


def test_warning_is_data_with_object_and_path() -> None:
    (warning,) = validate.validate(
        _objects(_pod("hostUsers: false\ncontainers: [{name: a, image: b}]"))
    )
    assert (warning.source, warning.doc_index, warning.kind, warning.name) == (
        "pod.yaml",
        1,
        "Pod",
        "web",
    )
    assert (warning.path, warning.message) == ("spec.hostUsers", fields.NOT_SUPPORTED)


def test_warnings_follow_input_order() -> None:
    daemonset = WORKLOAD.replace("kind: Deployment", "kind: DaemonSet").replace(
        "{name: web}", "{name: web, finalizers: [x]}", 1
    )
    text = daemonset + "---\n" + _pod("hostUsers: false\ncontainers: [{name: a, image: b}]")
    got = [w.path for w in validate.validate(_objects(text))]
    assert got == ["metadata.finalizers", "spec.hostUsers"]


@pytest.mark.parametrize(
    "version",
    [
        pytest.param("1.30", id="major-minor"),
        pytest.param("v1.29.3", id="v-prefix-and-patch"),
        pytest.param("", id="newest-bundled"),
    ],
)
def test_kube_version_selects_schema(version: str) -> None:
    assert validate.validate(_objects(POD), kube_version=version) == []


@pytest.mark.parametrize(
    "version",
    [
        pytest.param("1.9", id="older-than-bundled"),
        pytest.param("2.0", id="newer-than-bundled"),
        pytest.param("latest", id="not-a-version"),
    ],
)
def test_kube_version_unsupported(version: str) -> None:
    with pytest.raises(UsageError, match="Kubernetes version"):
        validate.validate(_objects(POD), kube_version=version)


def test_field_only_in_newer_kubernetes_is_unknown_in_older() -> None:
    # Pod-level resources arrived in Kubernetes 1.32 (PodLevelResources).
    text = _pod("resources: {limits: {cpu: '1'}}\ncontainers: [{name: a, image: b}]\n")
    assert _errors_for_version(text, "1.31") == [
        "pod.yaml:6: document 1 (Pod web): spec.resources: unknown field"
    ]
    assert [w.path for w in validate.validate(_objects(text), kube_version="1.32")] == [
        "spec.resources"
    ]


def _errors_for_version(text: str, version: str) -> list[str]:
    with pytest.raises(ManifestError) as caught:
        validate.validate(_objects(text), kube_version=version)
    return str(caught.value).splitlines()


# --- ConfigMap and Secret (pkg/apis/core/validation ValidateConfigMap / ValidateSecret) ----


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n  a b: x\n",
            "pod.yaml:5: document 1 (ConfigMap c): data.a b: invalid key 'a b': a valid config "
            "key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name', or "
            "'KEY_NAME', or 'key-name')",
            id="configmap-invalid-key",
        ),
        pytest.param(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {..x: '1'}\n",
            "pod.yaml:4: document 1 (ConfigMap c): data...x: invalid key '..x': "
            "must not start with '..'",
            id="configmap-key-starting-with-dot-dot",
        ),
        pytest.param(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {k: a}\n"
            "binaryData: {k: YQ==}\n",
            "pod.yaml:4: document 1 (ConfigMap c): data.k: duplicate of key 'k' present in "
            "binaryData",
            id="configmap-key-in-data-and-binary-data",
        ),
        pytest.param(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\nbinaryData: {k: '%%%'}\n",
            "pod.yaml:4: document 1 (ConfigMap c): binaryData.k: invalid value: not valid base64",
            id="configmap-binary-data-not-base64",
        ),
        pytest.param(
            "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {p: not base64!}\n",
            "pod.yaml:4: document 1 (Secret s): data.p: invalid value: not valid base64",
            id="secret-data-not-base64",
        ),
        pytest.param(
            "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {a/b: x}\n",
            "pod.yaml:4: document 1 (Secret s): stringData.a/b: invalid key 'a/b': a valid config "
            "key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name', or "
            "'KEY_NAME', or 'key-name')",
            id="secret-string-data-invalid-key",
        ),
        pytest.param(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: "
            + "x" * (1024 * 1024)
            + ", b: y}\n",
            "pod.yaml:4: document 1 (ConfigMap c): data: too long: must have at most 1048576 bytes",
            id="configmap-over-1MiB",
        ),
    ],
)
def test_config_object_errors(text: str, expected: str) -> None:
    assert _errors(text)[0] == expected


# --- env, securityContext: the API server's ValidateEnv / ValidatePodSecurityContext ------


def _ctr(extra: str) -> str:
    return _pod("containers:\n- name: app\n  image: nginx\n" + textwrap.indent(extra, "  "))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            _ctr("env: [{name: X, valueFrom: {fieldRef: {fieldPath: spec.hostname}}}]\n"),
            "spec.containers[0].env[0].valueFrom.fieldRef.fieldPath: Unsupported value: "
            "'spec.hostname'",
            id="env-fieldRef-unsupported-path",
        ),
        pytest.param(
            _ctr("env: [{name: X, valueFrom: {resourceFieldRef: {resource: limits.pids}}}]\n"),
            "spec.containers[0].env[0].valueFrom.resourceFieldRef.resource: Unsupported value: "
            "'limits.pids'",
            id="env-resourceFieldRef-unsupported-resource",
        ),
        pytest.param(
            _ctr(
                "env: [{name: X, valueFrom: {fieldRef: {fieldPath: metadata.name}, "
                "configMapKeyRef: {name: c, key: k}}}]\n"
            ),
            "spec.containers[0].env[0].valueFrom: may not have more than one field specified",
            id="env-two-sources",
        ),
        pytest.param(
            _ctr("env: [{name: X, value: v, valueFrom: {fieldRef: {fieldPath: metadata.name}}}]\n"),
            "spec.containers[0].env[0].valueFrom: may not be specified when `value` is not empty",
            id="env-value-and-valueFrom",
        ),
        pytest.param(
            _ctr("envFrom: [{prefix: P_}]\n"),
            "spec.containers[0].envFrom[0]: must specify one of: `configMapRef` or `secretRef`",
            id="envFrom-without-source",
        ),
        pytest.param(
            _ctr("securityContext: {privileged: true, allowPrivilegeEscalation: false}\n"),
            "spec.containers[0].securityContext: cannot set `allowPrivilegeEscalation` to false "
            "and `privileged` to true",
            id="no-escalation-with-privileged",
        ),
        pytest.param(
            _ctr("securityContext: {seccompProfile: {type: Localhost}}\n"),
            "spec.containers[0].securityContext.seccompProfile.localhostProfile: Required value",
            id="seccomp-localhost-needs-profile",
        ),
        pytest.param(
            _pod(
                "hostNetwork: true\nsecurityContext: {sysctls: [{name: net.core.somaxconn, "
                "value: '1024'}]}\ncontainers: [{name: a, image: b}]\n"
            ),
            "spec.securityContext.sysctls[0].name: sysctl 'net.core.somaxconn' not allowed with "
            "hostNetwork enabled",
            id="net-sysctl-with-host-network",
        ),
        pytest.param(
            _pod(
                "securityContext: {sysctls: [{name: vm.overcommit_memory, value: '1'}]}\n"
                "containers: [{name: a, image: b}]\n"
            ),
            "spec.securityContext.sysctls[0].name: sysctl 'vm.overcommit_memory' is not namespaced",
            id="node-level-sysctl",
        ),
    ],
)
def test_env_and_security_errors(text: str, expected: str) -> None:
    first = _errors(text)[0]
    assert expected in first, first


def _external_name(target: str) -> str:
    return (
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: alias\n"
        f"spec:\n  type: ExternalName\n  externalName: {target}\n"
    )


@pytest.mark.parametrize(
    ("target", "warned"),
    [
        pytest.param("web.default.svc.cluster.local", False, id="externalName-in-cluster-served"),
        pytest.param("web.default.svc.cluster.local.", False, id="externalName-rooted-served"),
        pytest.param("db.example.org", True, id="externalName-outside-cluster-warned"),
    ],
)
def test_external_name_outside_the_cluster_domain_is_warned(target: str, warned: bool) -> None:
    """dnsmasq serves a CNAME only to a name it knows itself: another is not served."""
    found = [w for w in _warnings(_external_name(target)) if "spec.externalName" in w]
    assert bool(found) is warned, found
    if warned:
        assert "dnsmasq answers CNAMEs to its own names" in found[0], found
