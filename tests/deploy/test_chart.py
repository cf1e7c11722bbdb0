"""The chart's objects fit together: selectors, ports, probes, hooks, secrets, scaling, policies.

`make chart-check` lints and strictly validates every values set; these tests check what a schema
cannot: that the pieces refer to each other correctly, and that the checker itself catches faults.
"""

from __future__ import annotations

import base64
import re
from pathlib import Path
from typing import Any

import pytest

from deploy.chart_check import VALUES_SETS, ChartError, load_documents, render, validate
from tests.deploy.workspace import ROOT
from trackstream_auth import SigningKey
from trackstream_events.catalog import topic

Objects = list[dict[str, Any]]


@pytest.fixture(scope="module")
def rendered(helm: Path) -> dict[str, Objects]:
    return {name: load_documents(render(helm, files)) for name, files in VALUES_SETS.items()}


def of_kind(objects: Objects, kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind]


def component(obj: dict[str, Any]) -> str:
    return str(obj["metadata"]["labels"]["app.kubernetes.io/component"])


def container(workload: dict[str, Any]) -> dict[str, Any]:
    (only,) = workload["spec"]["template"]["spec"]["containers"]
    return dict(only)


def matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


# --------------------------------------------------------------------------- the checker


def _deployment(**container_fields: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "x"},
        "spec": {
            "selector": {"matchLabels": {"a": "b"}},
            "template": {
                "metadata": {"labels": {"a": "b"}},
                "spec": {"containers": [{"name": "x", "image": "x:1", **container_fields}]},
            },
        },
    }


def test_validation_accepts_a_valid_object() -> None:
    assert validate([_deployment(ports=[{"containerPort": 80}])]) == []


def test_validation_rejects_a_wrong_type_and_an_unknown_field() -> None:
    assert validate([_deployment(ports=[{"containerPort": "80"}])])
    assert validate([_deployment(imagePullPolicyy="Always")])


def test_validation_rejects_the_same_object_twice() -> None:
    problems = validate([_deployment(), _deployment()])
    assert problems == ["Deployment/x is rendered 2 times"]


def test_loading_rejects_a_repeated_key() -> None:
    with pytest.raises(ChartError, match="repeated key 'app'"):
        load_documents("kind: ConfigMap\nmetadata:\n  labels:\n    app: a\n    app: b\n")


def test_the_values_schema_rejects_a_wrong_value(helm: Path) -> None:
    with pytest.raises(ChartError, match="opsPort"):
        render(helm, sets=["services.ingest.opsPort=not-a-port"])
    with pytest.raises(ChartError, match="KAFKA"):
        render(helm, sets=["kafka.env.BOOTSTRAP=x"])


# --------------------------------------------------------------------------- what renders


@pytest.mark.parametrize("values_set", list(VALUES_SETS))
def test_services_select_their_pods_and_name_real_ports(
    rendered: dict[str, Objects], values_set: str
) -> None:
    objects = rendered[values_set]
    deployments = {component(d): d for d in of_kind(objects, "Deployment")}
    for service in of_kind(objects, "Service"):
        (deployment,) = [
            d
            for d in deployments.values()
            if matches(service["spec"]["selector"], d["spec"]["template"]["metadata"]["labels"])
        ]
        port_names = {p["name"] for p in container(deployment)["ports"]}
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in port_names, f"{service['metadata']['name']}: {port}"


@pytest.mark.parametrize("values_set", list(VALUES_SETS))
def test_containers_listen_where_their_settings_say(
    rendered: dict[str, Objects], values_set: str
) -> None:
    objects = rendered[values_set]
    config = {c["metadata"]["name"]: c["data"] for c in of_kind(objects, "ConfigMap")}
    for deployment in of_kind(objects, "Deployment"):
        spec = container(deployment)
        env: dict[str, str] = {}
        for source in spec["envFrom"]:
            env.update(config[source["configMapRef"]["name"]])
        prefix = component(deployment).upper()
        ports = {p["name"]: p["containerPort"] for p in spec["ports"]}
        assert env[f"{prefix}_OPS_PORT"] == str(ports.pop("ops"))
        assert env[f"{prefix}_OPS_HOST"] == "0.0.0.0"
        port_env = {k: v for k, v in env.items() if k.endswith("_PORT") and "OPS" not in k}
        service_ports = {k: v for k, v in port_env.items() if k.startswith(prefix)}
        assert sorted(map(str, ports.values())) == sorted(service_ports.values())


@pytest.mark.parametrize("values_set", list(VALUES_SETS))
def test_pods_run_non_root_on_a_read_only_file_system_with_probes(
    rendered: dict[str, Objects], values_set: str
) -> None:
    workloads = of_kind(rendered[values_set], "Deployment") + of_kind(rendered[values_set], "Job")
    assert workloads
    for workload in workloads:
        pod = workload["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] != 0
        assert pod["automountServiceAccountToken"] is False
        security = container(workload)["securityContext"]
        assert security["readOnlyRootFilesystem"] is True
        assert security["allowPrivilegeEscalation"] is False
        assert security["capabilities"]["drop"] == ["ALL"]
        if workload["kind"] == "Deployment":
            spec = container(workload)
            assert spec["livenessProbe"]["httpGet"]["path"] == "/healthz"
            assert spec["readinessProbe"]["httpGet"]["path"] == "/readyz"
            assert spec["command"] == ["python", "-m", component(workload)]


def test_the_provisioning_job_runs_before_install_and_upgrade_as_make_provision_does(
    rendered: dict[str, Objects],
) -> None:
    (job,) = of_kind(rendered["default"], "Job")
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    makefile = (ROOT / "Makefile").read_text()
    recipe = re.search(r"^provision:.*\n\t\$\(PY\) (.+)$", makefile, re.MULTILINE)
    assert recipe is not None
    assert container(job)["command"][:2] == ["python", recipe.group(1)]
    assert container(job)["workingDir"] == "/app"
    # hooks run before the release's Secret exists: the S3 keys come from a hook Secret
    (hook_secret,) = [
        s
        for s in of_kind(rendered["default"], "Secret")
        if "helm.sh/hook" in s["metadata"].get("annotations", {})
    ]
    weights = [int(o["metadata"]["annotations"]["helm.sh/hook-weight"]) for o in (hook_secret, job)]
    assert weights[0] < weights[1]
    refs = {
        e["valueFrom"]["secretKeyRef"]["name"] for e in container(job)["env"] if "valueFrom" in e
    }
    assert refs == {hook_secret["metadata"]["name"]}


def test_the_secret_generates_the_keys_and_takes_the_rest_from_values(
    rendered: dict[str, Objects],
) -> None:
    secrets = {s["metadata"]["name"]: s for s in of_kind(rendered["minimal"], "Secret")}
    data = secrets["trackstream-secrets"]["data"]
    tokens = ("identifier-key", "identity-lookup-key", "identity-admin-password")
    for token in (*tokens, "privacy-ledger-key"):
        assert len(base64.b64decode(data[token])) == 48, token
    # identity signs tokens, privacy certificates: Ed25519 private keys they can load (PKCS#8)
    for signing in ("identity-signing-key", "privacy-signing-key"):
        key = SigningKey.from_pem(base64.b64decode(data[signing]))
        assert key.public_jwk()["crv"] == "Ed25519", signing
    assert data["identity-signing-key"] != data["privacy-signing-key"]
    assert base64.b64decode(data["s3-secret-key"]) == b"trial-only-secret"
    assert secrets["trackstream-secrets"]["metadata"]["annotations"] == {
        "helm.sh/resource-policy": "keep"
    }


def test_an_existing_secret_replaces_the_rendered_ones(rendered: dict[str, Objects]) -> None:
    objects = rendered["production"]
    assert of_kind(objects, "Secret") == []
    for workload in of_kind(objects, "Deployment") + of_kind(objects, "Job"):
        for entry in container(workload).get("env", []):
            if "valueFrom" in entry:
                assert entry["valueFrom"]["secretKeyRef"]["name"] == "trackstream-secrets"


def test_autoscaling_replaces_replicas_and_consumers_stay_within_their_partitions(
    rendered: dict[str, Objects],
) -> None:
    objects = rendered["production"]
    hpas = {component(h): h for h in of_kind(objects, "HorizontalPodAutoscaler")}
    assert set(hpas) == {component(d) for d in of_kind(objects, "Deployment")}
    for deployment in of_kind(objects, "Deployment"):
        assert "replicas" not in deployment["spec"]
        target = hpas[component(deployment)]["spec"]["scaleTargetRef"]
        assert target["name"] == deployment["metadata"]["name"]
    # a consumer replica beyond the partitions of tracking.positions.v1 would sit idle
    for consumer in ("history", "geocoding", "alarm"):
        assert hpas[consumer]["spec"]["maxReplicas"] <= topic("tracking.positions.v1").partitions


def test_disruption_budgets_and_policies_cover_every_service(
    rendered: dict[str, Objects],
) -> None:
    objects = rendered["default"]
    services = {component(d) for d in of_kind(objects, "Deployment")}
    assert {component(p) for p in of_kind(objects, "PodDisruptionBudget")} == services
    policies = {component(p): p for p in of_kind(objects, "NetworkPolicy")}
    assert set(policies) == services
    ingest_rules = policies["ingest"]["spec"]["ingress"]
    open_ports = {r["ports"][0]["port"] for r in ingest_rules if "from" not in r}
    assert open_ports == {"gt06", "jt808", "osmand"}
    history_rules = policies["history"]["spec"]["ingress"]
    assert all("from" in r for r in history_rules), "history's gRPC is not for the internet"


def test_trackers_get_a_load_balancer_and_internal_ports_do_not(
    rendered: dict[str, Objects],
) -> None:
    services = {s["metadata"]["name"]: s for s in of_kind(rendered["default"], "Service")}
    public = services["trackstream-ingest-public"]["spec"]
    assert public["type"] == "LoadBalancer"
    assert public["externalTrafficPolicy"] == "Local"
    assert [p["port"] for p in public["ports"]] == [5023, 5015, 5055]
    assert services["trackstream-history"]["spec"]["type"] == "ClusterIP"


def test_service_monitors_scrape_only_the_ops_services(rendered: dict[str, Objects]) -> None:
    objects = rendered["production"]
    monitors = of_kind(objects, "ServiceMonitor")
    assert {component(m) for m in monitors} == {
        component(d) for d in of_kind(objects, "Deployment")
    }
    for monitor in monitors:
        selected = [
            s
            for s in of_kind(objects, "Service")
            if matches(monitor["spec"]["selector"]["matchLabels"], s["metadata"]["labels"])
        ]
        assert len(selected) == 1
        assert "ops" in {p["name"] for p in selected[0]["spec"]["ports"]}


def test_a_disabled_service_renders_nothing(helm: Path) -> None:
    objects = load_documents(render(helm, sets=["services.history.enabled=false"]))
    assert not [
        o for o in objects if o["metadata"]["labels"].get("app.kubernetes.io/name") == "history"
    ]
    assert [o for o in objects if o["metadata"]["labels"].get("app.kubernetes.io/name") == "ingest"]


def test_a_config_change_rolls_the_pods(helm: Path, rendered: dict[str, Objects]) -> None:
    def checksum(objects: Objects, service: str = "ingest") -> str:
        (pod,) = [d for d in of_kind(objects, "Deployment") if component(d) == service]
        return str(pod["spec"]["template"]["metadata"]["annotations"]["checksum/config"])

    for change in ("services.ingest.env.INGEST_LOG_LEVEL=DEBUG", "kafka.env.KAFKA_LINGER_MS=7"):
        changed = load_documents(render(helm, sets=[change]))
        assert checksum(changed) != checksum(rendered["default"]), change
    # history does not use S3 (every service uses Cassandra since the data keys live there)
    unrelated = load_documents(render(helm, sets=["s3.env.S3_REGION=eu-west-1"]))
    assert checksum(unrelated, "history") == checksum(rendered["default"], "history")
    assert checksum(unrelated) != checksum(rendered["default"])


def test_the_checker_uses_the_helm_the_makefile_builds() -> None:
    from deploy.chart_check import DEFAULT_HELM

    version = re.search(r"^HELM_VERSION\s*:=\s*(\S+)$", (ROOT / "Makefile").read_text(), re.M)
    assert version is not None
    assert DEFAULT_HELM.relative_to(ROOT).as_posix() == f".infra/bin/helm-{version.group(1)}/helm"


def test_the_gateway_is_behind_the_ingress(rendered: dict[str, Objects]) -> None:
    objects = rendered["production"]
    (ingress,) = of_kind(objects, "Ingress")
    assert component(ingress) == "gateway"
    assert ingress["spec"]["ingressClassName"] == "nginx"
    assert ingress["spec"]["tls"] == [
        {"secretName": "trackstream-api-tls", "hosts": ["api.example.com"]}
    ]
    (rule,) = ingress["spec"]["rules"]
    assert rule["host"] == "api.example.com"
    (path,) = rule["http"]["paths"]
    assert path["backend"]["service"] == {"name": "trackstream-gateway", "port": {"name": "http"}}
    services = {s["metadata"]["name"]: s for s in of_kind(objects, "Service")}
    assert services["trackstream-gateway"]["spec"]["type"] == "ClusterIP"
    assert "trackstream-gateway-public" not in services
    (policy,) = [p for p in of_kind(objects, "NetworkPolicy") if component(p) == "gateway"]
    http_rule = next(r for r in policy["spec"]["ingress"] if r["ports"][0]["port"] == "http")
    assert http_rule["from"] == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}}
    ]
    # the defaults: any host, the cluster's default class, no TLS at the Ingress
    (default,) = of_kind(rendered["default"], "Ingress")
    assert "ingressClassName" not in default["spec"] and "tls" not in default["spec"]
    (any_host,) = default["spec"]["rules"]
    assert "host" not in any_host


@pytest.mark.parametrize("values_set", list(VALUES_SETS))
def test_the_gateway_reaches_its_backends_through_their_services_and_policies(
    rendered: dict[str, Objects], values_set: str
) -> None:
    objects = rendered[values_set]
    deployments = {component(d): d for d in of_kind(objects, "Deployment")}
    services = {s["metadata"]["name"]: s for s in of_kind(objects, "Service")}
    config = {c["metadata"]["name"]: c["data"] for c in of_kind(objects, "ConfigMap")}
    gateway_env = config["trackstream-gateway"]
    gateway_labels = deployments["gateway"]["spec"]["template"]["metadata"]["labels"]
    policies = {component(p): p for p in of_kind(objects, "NetworkPolicy")}
    for backend, variable in (
        ("identity", "GATEWAY_IDENTITY_ADDRESS"),
        ("history", "GATEWAY_HISTORY_ADDRESS"),
        ("geocoding", "GATEWAY_GEOCODING_ADDRESS"),
        ("alarm", "GATEWAY_ALARM_ADDRESS"),
        ("media", "GATEWAY_MEDIA_ADDRESS"),
        ("notification", "GATEWAY_NOTIFICATION_ADDRESS"),
    ):
        host, port = gateway_env[variable].split(":")
        service = services[host]["spec"]
        assert matches(
            service["selector"], deployments[backend]["spec"]["template"]["metadata"]["labels"]
        )
        (grpc,) = [p for p in service["ports"] if p["port"] == int(port)]
        assert grpc["name"] == "grpc"
        assert config[f"trackstream-{backend}"][f"{backend.upper()}_GRPC_PORT"] == port
        if backend in policies:  # the minimal values switch policies off
            rules = [
                r for r in policies[backend]["spec"]["ingress"] if r["ports"][0]["port"] == "grpc"
            ]
            assert any(
                "podSelector" in peer
                and matches(peer["podSelector"]["matchLabels"], gateway_labels)
                for rule in rules
                for peer in rule["from"]
            ), f"the gateway may not reach {backend}:{port}"
    if values_set != "minimal":
        assert set(policies) == set(deployments)


def test_a_peer_must_name_a_service_and_its_port(helm: Path) -> None:
    with pytest.raises(ChartError, match='no service "nothing"'):
        render(helm, sets=["services.gateway.peers.GATEWAY_IDENTITY_ADDRESS.service=nothing"])
    with pytest.raises(ChartError, match='has no port named "http"'):
        render(helm, sets=["services.gateway.peers.GATEWAY_IDENTITY_ADDRESS.port=http"])


def test_identity_reads_its_signing_key_from_the_secret_as_a_file(
    rendered: dict[str, Objects],
) -> None:
    for values_set in ("default", "production"):
        objects = rendered[values_set]
        (identity,) = [d for d in of_kind(objects, "Deployment") if component(d) == "identity"]
        spec = container(identity)
        env = {e["name"]: e for e in spec["env"]}
        path = "/var/run/secrets/trackstream/identity-signing-key"
        assert env["IDENTITY_SIGNING_KEY_FILE"]["value"] == path
        # the identifier key is ingest's (the same variable, the same Secret key)
        assert env["INGEST_IDENTIFIER_KEY"]["valueFrom"]["secretKeyRef"]["key"] == "identifier-key"
        assert env["IDENTITY_LOOKUP_KEY"]["valueFrom"]["secretKeyRef"]["key"] == (
            "identity-lookup-key"
        )
        mount = next(m for m in spec["volumeMounts"] if m["name"] == "secret-files")
        assert mount["mountPath"] == "/var/run/secrets/trackstream" and mount["readOnly"] is True
        volume = next(v for v in identity["spec"]["template"]["spec"]["volumes"] if "secret" in v)
        assert volume["secret"]["secretName"] == "trackstream-secrets"
        assert {"key": "identity-signing-key", "path": "identity-signing-key"} in volume["secret"][
            "items"
        ]


def test_privacy_reads_its_keys_from_the_secret(rendered: dict[str, Objects]) -> None:
    """Every privacy replica signs certificates with the same key, which outlives the pods: the
    Secret's, as a file, never one created in the pod; the ledger key from the Secret too."""
    for values_set in ("default", "production"):
        objects = rendered[values_set]
        (privacy,) = [d for d in of_kind(objects, "Deployment") if component(d) == "privacy"]
        spec = container(privacy)
        env = {e["name"]: e for e in spec["env"]}
        path = "/var/run/secrets/trackstream/privacy-signing-key"
        assert env["PRIVACY_SIGNING_KEY_FILE"]["value"] == path
        assert env["PRIVACY_LEDGER_KEY"]["valueFrom"]["secretKeyRef"] == {
            "name": "trackstream-secrets",
            "key": "privacy-ledger-key",
        }
        mount = next(m for m in spec["volumeMounts"] if m["name"] == "secret-files")
        assert mount["mountPath"] == "/var/run/secrets/trackstream" and mount["readOnly"] is True
        volume = next(v for v in privacy["spec"]["template"]["spec"]["volumes"] if "secret" in v)
        assert volume["secret"]["items"] == [
            {"key": "privacy-signing-key", "path": "privacy-signing-key"}
        ]


def test_chart_check_says_how_to_get_helm(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from deploy.chart_check import main

    assert main(["--helm", str(tmp_path / "helm")]) == 1
    assert "run `make helm`" in capsys.readouterr().err


@pytest.mark.parametrize("values_set", list(VALUES_SETS))
def test_geocoding_becomes_live_only_once_its_dataset_is_loaded(
    rendered: dict[str, Objects], values_set: str
) -> None:
    """Geocoding loads its offline dataset at start (4-13 s, more on a busy node) and says so on
    /readyz: the startup probe waits for that, with minutes to spare, before liveness begins;
    the other services start live as soon as /healthz answers."""
    for deployment in of_kind(rendered[values_set], "Deployment"):
        spec = container(deployment)
        startup = spec["startupProbe"]
        allowance = startup["periodSeconds"] * startup["failureThreshold"]
        assert spec["livenessProbe"]["httpGet"]["path"] == "/healthz"
        if component(deployment) == "geocoding":
            assert startup["httpGet"] == {"path": "/readyz", "port": "ops"}
            assert allowance >= 120, allowance
        else:
            assert startup["httpGet"] == {"path": "/healthz", "port": "ops"}
            assert allowance == 120


def test_a_startup_probe_takes_only_the_ops_endpoints(helm: Path) -> None:
    with pytest.raises(ChartError, match="startupProbe"):
        render(helm, sets=["services.geocoding.startupProbe.path=/metrics"])


def test_whole_numbers_are_written_as_integers(helm: Path, tmp_path: Path) -> None:
    """YAML numbers reach the templates as floats, which Helm writes as 1e+06 from a million
    up; an int setting refuses that. Fractions stay as they are."""
    values = tmp_path / "numbers.yaml"
    values.write_text(
        "kafka: {env: {KAFKA_MAX_BATCH_SIZE: 2000000}}\n"
        "services: {geocoding: {env: {GEOCODING_MAX_DEVICES: 5000000,"
        " GEOCODING_PROVIDER_TIMEOUT_S: 1.5}}}\n"
    )
    objects = load_documents(render(helm, [values]))
    config = {c["metadata"]["name"]: c["data"] for c in of_kind(objects, "ConfigMap")}
    assert config["trackstream-geocoding"]["GEOCODING_MAX_DEVICES"] == "5000000"
    assert config["trackstream-geocoding"]["GEOCODING_PROVIDER_TIMEOUT_S"] == "1.5"
    assert config["trackstream-kafka"]["KAFKA_MAX_BATCH_SIZE"] == "2000000"
    (job,) = of_kind(objects, "Job")
    job_env = {e["name"]: e.get("value") for e in container(job)["env"]}
    assert job_env["KAFKA_MAX_BATCH_SIZE"] == "2000000"


def test_geocoding_serves_the_release_and_may_reach_its_provider(
    rendered: dict[str, Objects],
) -> None:
    """Its gRPC port admits this release's pods only. Its provider (production values: a
    self-hosted Nominatim) is outside the release: no policy restricts the pods' egress."""
    for values_set in ("default", "production"):
        objects = rendered[values_set]
        (policy,) = [p for p in of_kind(objects, "NetworkPolicy") if component(p) == "geocoding"]
        assert policy["spec"]["policyTypes"] == ["Ingress"]
        (grpc,) = [r for r in policy["spec"]["ingress"] if r["ports"][0]["port"] == "grpc"]
        assert grpc["from"] == [
            {
                "podSelector": {
                    "matchLabels": {
                        "app.kubernetes.io/part-of": "trackstream",
                        "app.kubernetes.io/instance": "trackstream",
                    }
                }
            }
        ]
        assert all(
            "Egress" not in p["spec"]["policyTypes"] for p in of_kind(objects, "NetworkPolicy")
        )
    config = {
        c["metadata"]["name"]: c["data"] for c in of_kind(rendered["production"], "ConfigMap")
    }
    geocoding = config["trackstream-geocoding"]
    assert geocoding["GEOCODING_PROVIDER"] == "nominatim"
    assert geocoding["GEOCODING_PROVIDER_URL"].startswith("http")
    services = {s["metadata"]["name"]: s for s in of_kind(rendered["default"], "Service")}
    assert services["trackstream-geocoding"]["spec"]["type"] == "ClusterIP"
    assert "trackstream-geocoding-public" not in services
