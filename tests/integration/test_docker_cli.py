"""The stock docker CLI against swarmnode's control socket (DOCKER_HOST=unix://SOCKET)."""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(__file__))
from harness import Counter, Daemon, wait_for, docker, DOCKER  # noqa: E402



def with_daemon(fn):
    def wrapper():
        assert DOCKER, "no docker CLI on PATH: scripts/deps.sh installs Debian's docker.io"
        d = Daemon().start()
        try:
            fn(d)
            assert d.stop() == 0, d.logs()
        finally:
            d.cleanup()
    wrapper.__name__ = fn.__name__
    return wrapper


def project_version():
    with open(os.path.join(os.path.dirname(__file__), "../../meson.build")) as f:
        return re.search(r"version : '([^']+)'", f.read()).group(1)


def field(text, name):
    m = re.search(r"^\s*" + re.escape(name) + r":\s*(.*)$", text, re.M)
    assert m, f"no {name!r} in:\n{text}"
    return m.group(1).strip()


@with_daemon
def docker_version(d):
    r = docker(d, "version")
    assert r.returncode == 0, r.stderr
    client, server = r.stdout.split("Server:", 1)
    assert server.startswith(" swarmnode"), server
    # The CLI negotiated 1.41 from our /_ping (it falls back to 1.24 without Api-Version).
    assert field(client, "API version").startswith("1.41"), client
    assert field(server, "API version") == "1.41 (minimum version 1.24)", server
    assert field(server, "Version") == project_version(), server
    assert field(server, "OS/Arch").startswith("linux/"), server


@with_daemon
def docker_info(d):
    r = docker(d, "info")
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert " Swarm: inactive" in out, out
    assert field(out, "Server Version") == project_version(), out
    assert f" Docker Root Dir: {d.data_dir}" in out, out
    engine_id = open(os.path.join(d.data_dir, "engine-id")).read().strip()
    assert f" ID: {engine_id}" in out, out
    assert "ERROR" not in r.stderr and "error" not in out.lower(), (out, r.stderr)


@with_daemon
def docker_format_templates(d):
    r = docker(d, "version", "--format", "{{.Server.APIVersion}} {{.Server.Os}}")
    assert r.returncode == 0 and r.stdout.strip() == "1.41 linux", (r.stdout, r.stderr)
    r = docker(d, "info", "--format", "{{.Swarm.LocalNodeState}} {{.NCPU}}")
    assert r.returncode == 0, r.stderr
    state, ncpu = r.stdout.split()
    assert state == "inactive" and int(ncpu) >= 1


def swarm_node(i):
    a = f"127.0.0.{60 + i}"
    return Daemon(extra_args=["--listen-addr", f"{a}:2377", "--gossip-addr", f"{a}:7946", "--advertise-addr", a])


def docker_swarm_commands():
    """The seed's swarm commands through the stock docker CLI."""
    assert DOCKER, "no docker CLI on PATH: scripts/deps.sh installs Debian's docker.io"
    m, w = swarm_node(0).start(), swarm_node(1).start()
    try:
        r = docker(m, "node", "ls")
        assert r.returncode == 1 and "This node is not a swarm manager" in r.stderr, r
        r = docker(m, "swarm", "init", "--advertise-addr", "127.0.0.60")
        assert r.returncode == 0, r.stderr
        assert "Swarm initialized: current node (" in r.stdout and "docker swarm join --token SWMTKN-1-" in r.stdout
        assert "127.0.0.60:2377" in r.stdout, r.stdout
        r = docker(m, "swarm", "init", "--advertise-addr", "127.0.0.60")
        assert r.returncode == 1 and "already part of a swarm" in r.stderr, r
        token = docker(m, "swarm", "join-token", "-q", "worker").stdout.strip()
        assert token.startswith("SWMTKN-1-"), token
        r = docker(m, "swarm", "join-token", "manager")
        assert r.returncode == 0 and "To add a manager to this swarm" in r.stdout, r
        r = docker(w, "swarm", "join", "--token", token, "127.0.0.60:2377")
        assert r.returncode == 0 and "This node joined a swarm as a worker." in r.stdout, (r.stdout, r.stderr)
        wait_for(lambda: docker(m, "node", "ls").stdout.count(" Ready ") == 2, 30, "two ready nodes")
        ls = docker(m, "node", "ls").stdout.splitlines()
        assert ls[0].split() == ["ID", "HOSTNAME", "STATUS", "AVAILABILITY", "MANAGER", "STATUS", "ENGINE", "VERSION"]
        assert any(" * " in line and "Leader" in line for line in ls[1:]), ls
        r = docker(m, "node", "inspect", "self", "--pretty")
        assert r.returncode == 0 and "Manager Status:" in r.stdout and "127.0.0.60:2377" in r.stdout, r
        r = docker(m, "node", "inspect", "nope")
        assert r.returncode == 1 and "nope" in r.stderr, r
        # a write through Raft: docker node update reads the version and posts the spec back
        wid = docker(w, "info", "--format", "{{.Swarm.NodeID}}").stdout.strip()
        r = docker(m, "node", "update", "--label-add", "zone=a", "--availability", "drain", wid)
        assert r.returncode == 0 and wid in r.stdout, r
        r = docker(m, "node", "inspect", "--format", "{{.Spec.Labels.zone}} {{.Spec.Availability}}", wid)
        assert r.stdout.strip() == "a drain", r
        # promote and demote through Raft: the worker becomes a voter, then a worker again
        r = docker(m, "node", "promote", wid)
        assert r.returncode == 0 and f"Node {wid} promoted to a manager in the swarm." in r.stdout, r
        wait_for(lambda: docker(w, "info", "--format", "{{.Swarm.ControlAvailable}}").stdout.strip() == "true" and
                 docker(m, "node", "ls").stdout.count("Reachable") == 1, 30, "the promoted node to be a manager")
        r = docker(m, "node", "demote", wid)
        assert r.returncode == 0 and f"Manager {wid} demoted in the swarm." in r.stdout, r
        wait_for(lambda: docker(w, "info", "--format", "{{.Swarm.ControlAvailable}}").stdout.strip() == "false",
                 30, "the demoted node to be a worker")
        info = docker(m, "info").stdout
        assert " Swarm: active" in info and " Is Manager: true" in info and " Nodes: 2" in info, info
        r = docker(w, "swarm", "leave")
        assert r.returncode == 0 and "Node left the swarm." in r.stdout, r
        r = docker(m, "swarm", "leave")
        assert r.returncode == 1 and "--force" in r.stderr, r
        r = docker(m, "swarm", "leave", "--force")
        assert r.returncode == 0, r
        assert " Swarm: inactive" in docker(m, "info").stdout
        assert m.stop() == 0 and w.stop() == 0
    finally:
        m.cleanup()
        w.cleanup()


if __name__ == "__main__":
    sys.exit(Counter().run([docker_version, docker_info, docker_format_templates, docker_swarm_commands]))
