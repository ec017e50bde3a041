"""Stacks on a single manager (127.0.0.170+): swarmnode deploy / stack deploy
of examples/stack.yml (networks and services with the stack's labels),
re-deploys that update only the services whose spec changed, --prune, stack
ls/services/ps/rm; broken files deploy nothing and say FILE:LINE:COLUMN; the
/networks API (create, filters, inspect, in-use refusal, delete), /secrets,
/configs and /distribution; and the stock docker CLI's stack and network
commands.
Tasks exist only once the orchestrator lands: services are asserted, and
stack ps by its header."""
import json
import os
import re
import sys
import urllib.parse

sys.path.insert(0, os.path.dirname(__file__))
from harness import Counter, Daemon, wait_for, ok, fails, api, table, docker, DOCKER, loopback_daemon  # noqa: E402

BASE = int(os.environ.get("SN_TEST_IP_BASE_STACK", "170"))
EXAMPLE = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "stack.yml")
LABEL = "com.docker.stack.namespace"


def manager(i=0):
    ip = f"127.0.0.{BASE + i}"
    d = loopback_daemon(ip)
    d.start()
    ok(d.cli("init", "--advertise-addr", ip))
    return d


def with_manager(fn):
    def wrapper():
        d = manager()
        try:
            fn(d)
        finally:
            d.stop()
            d.cleanup()
    wrapper.__name__ = fn.__name__
    return wrapper


def filters(**kw):
    return "?filters=" + urllib.parse.quote(json.dumps({k: {v: True} for k, v in kw.items()}))


def services(d, stack="demo"):
    """The stack's services by name."""
    status, body = api(d, "GET", "/services" + filters(label=f"{LABEL}={stack}"))
    assert status == 200, body
    return {s["Spec"]["Name"]: s for s in body}


def networks(d):
    status, body = api(d, "GET", "/networks")
    assert status == 200, body
    return {n["Name"]: n for n in body}


def write(d, name, text):
    path = os.path.join(d.dir, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    return path


def example(d, **replace):
    """examples/stack.yml with some lines replaced, in the test's directory."""
    with open(EXAMPLE) as f:
        text = f.read()
    for old, new in replace.items():
        assert old in text, old
        text = text.replace(old, new)
    return write(d, f"stack-{len(os.listdir(d.dir))}.yml", text)


@with_manager
def deploy_redeploy_prune_and_rm(d):
    out = ok(d.cli("deploy", EXAMPLE))
    assert out == "Creating network demo_default\nCreating service demo_web\nCreating service demo_worker\n", out
    net = networks(d)["demo_default"]
    assert net["Labels"] == {LABEL: "demo"} and net["Driver"] == "overlay" and net["Scope"] == "swarm", net
    svcs = services(d)
    assert sorted(svcs) == ["demo_web", "demo_worker"], svcs
    web = svcs["demo_web"]["Spec"]
    assert web["Labels"] == {LABEL: "demo"} and web["TaskTemplate"]["ContainerSpec"]["Labels"] == {LABEL: "demo"}
    assert web["TaskTemplate"]["ContainerSpec"]["Image"] == "python3"
    assert web["TaskTemplate"]["ContainerSpec"]["Args"] == ["-m", "http.server", "--bind", "${SWARMNODE_NODE_ADDR}",
                                                            "${PORT}"], web
    assert web["TaskTemplate"]["Networks"] == [{"Target": net["Id"], "Aliases": ["web"]}], web
    assert web["Mode"]["Replicated"]["Replicas"] == 2 and web["UpdateConfig"]["Order"] == "start-first"
    assert web["TaskTemplate"]["RestartPolicy"]["Condition"] == "on-failure"
    assert svcs["demo_web"]["Endpoint"]["Ports"][0]["PublishedPort"] == 8080
    assert svcs["demo_worker"]["Spec"]["Mode"]["Replicated"]["Replicas"] == 3
    versions = {n: s["Version"]["Index"] for n, s in svcs.items()}

    # The same file again changes nothing at all.
    assert ok(d.cli("stack", "deploy", "-c", EXAMPLE, "demo")) == ""
    assert {n: s["Version"]["Index"] for n, s in services(d).items()} == versions

    # One change: only that service is updated.
    changed = example(d, **{"replicas: 3": "replicas: 4"})
    out = ok(d.cli("stack", "deploy", "-c", changed, "demo"))
    worker_id = svcs["demo_worker"]["ID"]
    assert out == f"Updating service demo_worker (id: {worker_id})\n", out
    after = services(d)
    assert after["demo_web"]["Version"]["Index"] == versions["demo_web"], after["demo_web"]["Version"]
    assert after["demo_worker"]["Version"]["Index"] > versions["demo_worker"]
    assert after["demo_worker"]["Spec"]["Mode"]["Replicated"]["Replicas"] == 4
    assert after["demo_worker"]["PreviousSpec"]["Mode"]["Replicated"]["Replicas"] == 3

    rows = table(ok(d.cli("stack", "ls")))
    assert rows == [["NAME", "SERVICES"], ["demo", "2"]], rows
    rows = table(ok(d.cli("stack", "services", "demo")))
    assert rows[0] == ["ID", "NAME", "MODE", "REPLICAS", "IMAGE", "PORTS"], rows
    # REPLICAS is running/desired: the orchestrator starts the tasks meanwhile
    assert [[r[1], r[2], r[3].split("/")[1], r[4]] for r in rows[1:]] == [
        ["demo_web", "replicated", "2", "python3"], ["demo_worker", "replicated", "4", "/bin/sh"]], rows
    assert ok(d.cli("stack", "services", "-q", "--filter", "name=demo_wo", "demo")).split() == [worker_id]
    rows = table(ok(d.cli("stack", "ps", "demo")))
    assert rows[0] == ["ID", "NAME", "IMAGE", "NODE", "DESIRED STATE", "CURRENT STATE", "ERROR", "PORTS"], rows
    assert "Nothing found in stack: other" in fails(d.cli("stack", "services", "other"), code=0)

    # --prune removes the service the file no longer names; without it, it stays.
    only_web = example(d, **{"  worker:": "  x-worker:"})
    ok(d.cli("stack", "deploy", "-c", only_web, "demo"))
    assert sorted(services(d)) == ["demo_web", "demo_worker"]
    out = ok(d.cli("stack", "deploy", "--prune", "-c", only_web, "demo"))
    assert out == "Removing service demo_worker\n", out
    assert sorted(services(d)) == ["demo_web"]

    out = ok(d.cli("stack", "rm", "demo"))
    assert out == "Removing service demo_web\nRemoving network demo_default\n", out
    assert services(d) == {} and networks(d) == {}
    assert "Nothing found in stack: demo" in fails(d.cli("stack", "rm", "demo"), code=0)
    assert table(ok(d.cli("stack", "ls"))) == [["NAME", "SERVICES"]]


@with_manager
def names_overrides_and_unsupported_options(d):
    # No name: key: the folder's name; a second -c file overrides the first.
    base = write(d, "shop/stack.yml", "services:\n  api:\n    image: busybox\n    build: .\n"
                 "    networks: [back]\nnetworks:\n  back:\n    labels: {tier: back}\n")
    override = write(d, "shop/override.yml", "services:\n  api:\n    deploy:\n      replicas: 2\n")
    r = d.cli("deploy", base)
    assert r.returncode == 0, r.stderr
    assert "Ignoring unsupported options: build" in r.stderr, r.stderr
    assert r.stdout == "Creating network shop_back\nCreating service shop_api\n", r.stdout
    assert networks(d)["shop_back"]["Labels"] == {"tier": "back", LABEL: "shop"}
    out = ok(d.cli("stack", "deploy", "-c", base, "-c", override, "shop"))
    assert out.startswith("Updating service shop_api (id: "), out
    assert services(d, "shop")["shop_api"]["Spec"]["Mode"]["Replicated"]["Replicas"] == 2
    # An explicit NAME wins over the folder's.
    ok(d.cli("deploy", base, "other"))
    assert sorted(services(d, "other")) == ["other_api"]
    ok(d.cli("stack", "rm", "shop", "other"))
    assert networks(d) == {}


@with_manager
def broken_files_deploy_nothing(d):
    syntax = write(d, "syntax.yml", "services:\n  web:\n    image: busybox\n   ports: [80]\n")
    err = fails(d.cli("deploy", syntax, "demo"))
    assert re.search(re.escape(syntax) + r":4:\d+: ", err), err
    schema = write(d, "schema.yml", "services:\n  web:\n    image: busybox\n    deploy:\n      replicas: many\n")
    err = fails(d.cli("stack", "deploy", "-c", schema, "demo"))
    assert re.search(re.escape(schema) + r":5:\d+: services\.web\.deploy\.replicas", err), err
    missing = write(d, "missing.yml", "services:\n  web:\n    image: ${IMAGE?set IMAGE}\n")
    assert "IMAGE" in fails(d.cli("deploy", missing, "demo"))
    # A spec the daemon would refuse is caught before the first write.
    constraint = write(d, "constraint.yml", "services:\n  a:\n    image: busybox\n  b:\n    image: busybox\n"
                       "    deploy:\n      placement:\n        constraints: [node.colour==red]\n")
    err = fails(d.cli("deploy", constraint, "demo"))
    assert "service demo_b: " in err and "node.colour" in err, err
    external = write(d, "external.yml", "services:\n  web:\n    image: busybox\n    networks: [shared]\n"
                     "networks:\n  shared:\n    external: true\n")
    err = fails(d.cli("deploy", external, "demo"))
    assert 'network "shared" is declared as external, but could not be found' in err, err
    assert services(d) == {} and networks(d) == {}
    # Once the external network exists, the service is attached to it.
    status, created = api(d, "POST", "/networks/create", {"Name": "shared", "Driver": "overlay"})
    assert status == 201, created
    assert ok(d.cli("deploy", external, "demo")) == "Creating service demo_web\n"
    nets = services(d)["demo_web"]["Spec"]["TaskTemplate"]["Networks"]
    assert [n["Target"] for n in nets] == [created["Id"]], nets
    fails(d.cli("stack", "deploy", "demo"), code=2)


@with_manager
def networks_secrets_configs_and_distribution(d):
    body = {"Name": "demo_default", "Driver": "overlay", "Scope": "", "IPAM": None, "Internal": False,
            "Attachable": False, "Ingress": False, "ConfigOnly": False, "ConfigFrom": None, "Options": None,
            "Labels": {LABEL: "demo"}, "CheckDuplicate": True}
    status, created = api(d, "POST", "/networks/create", body)
    assert status == 201 and created["Warning"] == "" and len(created["Id"]) == 25, created
    nid = created["Id"]
    status, err = api(d, "POST", "/networks/create", body)
    assert status == 409 and err["message"] == "network with name demo_default already exists", err
    status, err = api(d, "POST", "/networks/create", {"Name": "DEMO_DEFAULT"})
    assert status == 409 and "name conflicts with an existing object" in err["message"], err
    for bad, msg in [({"Name": ""}, "meta: name must be provided"),
                     ({"Name": "a b"}, "name must be valid as a DNS name component"),
                     ({"Name": "x", "Driver": "bridge"}, 'driver "bridge" is not supported'),
                     ({"Name": "x", "Labels": {"a": 1}}, "Labels.a: expected a string"),
                     ({"Name": "x", "Internal": "yes"}, "Internal: expected a boolean")]:
        status, err = api(d, "POST", "/networks/create", bad)
        assert status == 400 and msg in err["message"], (bad, status, err)
    api(d, "POST", "/networks/create", {"Name": "other", "Internal": True, "Labels": {"tier": "back"}})
    [net] = api(d, "GET", "/networks" + filters(label=f"{LABEL}=demo"))[1]
    assert net["Id"] == nid and net["Name"] == "demo_default" and net["Created"], net
    assert net["IPAM"] == {"Driver": "default", "Options": None, "Config": []} and net["Containers"] == {}, net
    names = lambda q: sorted(n["Name"] for n in api(d, "GET", "/networks" + q)[1])  # noqa: E731
    assert names(filters(name="^oth")) == ["other"] and names(filters(name="default")) == ["demo_default"]
    assert names(filters(id=nid[:6])) == ["demo_default"] and names(filters(label="tier")) == ["other"]
    assert names(filters(driver="overlay")) == ["demo_default", "other"] and names(filters(scope="local")) == []
    status, err = api(d, "GET", "/networks" + filters(colour="red"))
    assert status == 400 and err["message"] == "invalid filter 'colour'", err
    assert api(d, "GET", "/networks/demo_default")[1]["Id"] == nid
    assert api(d, "GET", "/networks/" + nid[:5])[1]["Name"] == "demo_default"
    status, err = api(d, "GET", "/networks/nope")
    assert status == 404 and err["message"] == "network nope not found", err
    # Services name networks by name; the daemon keeps the id, and refuses unknown ones.
    spec = {"Name": "web", "TaskTemplate": {"ContainerSpec": {"Image": "busybox"},
                                            "Networks": [{"Target": "demo_default"}]}}
    status, created = api(d, "POST", "/services/create", spec)
    assert status == 201, created
    assert api(d, "GET", "/services/web")[1]["Spec"]["TaskTemplate"]["Networks"] == [{"Target": nid}]
    spec["Name"], spec["TaskTemplate"]["Networks"] = "web2", [{"Target": "nope"}]
    status, err = api(d, "POST", "/services/create", spec)
    assert status == 404 and err["message"] == "network nope not found", err
    status, err = api(d, "DELETE", "/networks/demo_default")
    assert status == 400 and err["message"] == f"network {nid} is in use by service {created['ID']}", err
    assert api(d, "DELETE", "/services/web")[0] == 200
    assert api(d, "DELETE", "/networks/demo_default") == (204, None)
    assert api(d, "DELETE", "/networks/demo_default")[0] == 404
    # swarmnode has no secrets or configs: empty lists, creation refused.
    assert api(d, "GET", "/secrets" + filters(label=f"{LABEL}=demo")) == (200, [])
    assert api(d, "GET", "/configs") == (200, [])
    assert api(d, "GET", "/secrets" + filters(colour="red"))[0] == 400
    status, err = api(d, "POST", "/secrets/create", {"Name": "s"})
    assert status == 501 and "does not store secrets" in err["message"], err
    assert api(d, "GET", "/configs/c")[0] == 404
    for image in ["python3", "library/busybox:1.36", "/bin/sh"]:
        status, err = api(d, "GET", f"/distribution/{image}/json")
        assert status == 404 and "swarmnode does not contact registries" in err["message"], (image, err)


@with_manager
def the_stock_docker_cli(d):
    assert DOCKER, "no docker CLI on PATH"
    # docker's compose schema for stacks has no top-level name: key, and its image
    # references must be registry names (the exec runtime's "/bin/sh" is not).
    nameless = example(d, **{"name: demo\n": "", "image: /bin/sh": "image: busybox:local"})
    r = docker(d, "stack", "deploy", "-c", nameless, "demo")
    assert r.returncode == 0, r.stdout + r.stderr
    for line in ["Creating network demo_default", "Creating service demo_web", "Creating service demo_worker"]:
        assert line in r.stdout, r.stdout
    # /distribution's 404 makes docker go on with the image as named, silently.
    assert r.stderr.startswith("Since --detach=false was not specified"), r.stderr
    svcs = services(d)
    net = networks(d)["demo_default"]
    assert sorted(svcs) == ["demo_web", "demo_worker"], svcs
    assert svcs["demo_web"]["Spec"]["TaskTemplate"]["Networks"][0]["Target"] == net["Id"]
    assert svcs["demo_web"]["Spec"]["Labels"][LABEL] == "demo"
    rows = table(ok(docker(d, "stack", "ls")))
    assert rows == [["NAME", "SERVICES"], ["demo", "2"]], rows
    rows = table(ok(docker(d, "stack", "services", "demo")))
    assert [r[1] for r in rows[1:]] == ["demo_web", "demo_worker"] and rows[1][3].endswith("/2"), rows
    # docker updates every service of the stack on a re-deploy, with the version it read.
    r = docker(d, "stack", "deploy", "-c", nameless, "demo")
    assert r.returncode == 0 and f"Updating service demo_web (id: {svcs['demo_web']['ID']})" in r.stdout, r
    # the stack's tasks, as docker lists them
    wait_for(lambda: "demo_worker.1" in ok(docker(d, "stack", "ps", "demo")), 30, "docker stack ps to list tasks")
    # swarmnode's own CLI sees docker's stack, and the other way round.
    assert table(ok(d.cli("stack", "ls"))) == [["NAME", "SERVICES"], ["demo", "2"]]
    out = ok(docker(d, "stack", "rm", "demo"))
    assert "Removing service demo_web" in out and "Removing network demo_default" in out, out
    assert services(d) == {} and networks(d) == {}
    ok(d.cli("deploy", EXAMPLE))
    out = ok(docker(d, "stack", "rm", "demo"))
    assert "Removing service demo_worker" in out and services(d) == {}, out
    # docker network create/ls/inspect/rm go through the same /networks.
    nid = ok(docker(d, "network", "create", "-d", "overlay", "--label", "tier=back", "backend")).strip()
    rows = table(ok(docker(d, "network", "ls", "--filter", "label=tier")))
    assert rows == [["NETWORK ID", "NAME", "DRIVER", "SCOPE"], [nid[:12], "backend", "overlay", "swarm"]], rows
    assert json.loads(ok(docker(d, "network", "inspect", "backend")))[0]["Labels"] == {"tier": "back"}
    assert ok(docker(d, "network", "rm", "backend")) == "backend\n"
    assert "network backend not found" in fails(docker(d, "network", "rm", "backend"))


def outside_a_swarm_networks_are_503():
    d = Daemon().start()
    try:
        status, body = api(d, "GET", "/networks")
        assert status == 503 and "not a swarm manager" in body["message"], body
        assert api(d, "GET", "/secrets")[0] == 503
        r = d.cli("deploy", EXAMPLE)
        assert r.returncode == 1 and "not a swarm manager" in r.stderr, r
    finally:
        d.stop()
        d.cleanup()


if __name__ == "__main__":
    sys.exit(Counter().run([
        deploy_redeploy_prune_and_rm,
        names_overrides_and_unsupported_options,
        broken_files_deploy_nothing,
        networks_secrets_configs_and_distribution,
        the_stock_docker_cli,
        outside_a_swarm_networks_are_503,
    ]))
