"""cluster.yaml passes Ray's own cluster-launcher validation (offline) and opens nothing to the internet."""

import copy
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


def load():
    return yaml.safe_load((ROOT / "cluster.yaml").read_text())


def test_ray_validates_cluster_yaml():
    from ray.autoscaler._private.util import prepare_config, validate_config

    config = prepare_config(load())  # merges Ray's AWS defaults; no cloud call
    validate_config(config)
    nodes = config["available_node_types"]
    assert nodes[config["head_node_type"]]["resources"].get("GPU", 0) == 0
    gpu_nodes = [n for name, n in nodes.items() if name != config["head_node_type"]]
    assert gpu_nodes and all(n["resources"]["GPU"] == 8 for n in gpu_nodes)
    # The GPU tickets by which Tune admits trials equal the GPUs on every node (search/runs/sweep.py).
    assert all(n["resources"]["polymix_gpu_ticket"] == n["resources"]["GPU"] for n in gpu_nodes)
    assert all(n["max_workers"] >= n["min_workers"] for n in gpu_nodes)


def test_ray_rejects_a_broken_variant():
    from ray.autoscaler._private.util import prepare_config, validate_config

    broken = copy.deepcopy(load())
    broken["available_node_types"]["gpu-a100x8"]["setup_commands"] = ["echo per-type setup is not a key"]
    with pytest.raises(Exception, match="setup_commands"):
        validate_config(prepare_config(broken))


def test_no_port_is_opened_to_the_internet():
    text = yaml.safe_dump(load())  # the settings, not the comments
    assert "0.0.0.0/0" not in text and "::/0" not in text
    # With SecurityGroupIds on every node type, Ray creates no group of its own (its default opens SSH to all).
    assert all(node["node_config"].get("SecurityGroupIds") for node in load()["available_node_types"].values())
    assert "RAY_AUTH_MODE=token" in text
