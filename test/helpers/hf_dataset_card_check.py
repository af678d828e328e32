"""Checks a Hugging Face dataset folder the way datasets.load_dataset reads it: the README.md YAML
front matter's `configs:` block (config_name, data_files as split/path) must name files that exist,
each a JSONL file whose rows parse. Prints {config: {split: rows}} as JSON; exits 1 on a problem.

usage: python3 hf_dataset_card_check.py <dataset dir>
"""
import json
import os
import sys

import yaml


def main():
    folder = sys.argv[1]
    text = open(os.path.join(folder, "README.md"), encoding="utf-8").read()
    if not text.startswith("---\n"):
        sys.exit("README.md has no YAML front matter")
    front = yaml.safe_load(text.split("---\n", 2)[1])
    out = {}
    for config in front["configs"]:
        name = config["config_name"]
        out[name] = {}
        for entry in config["data_files"]:
            if set(entry) != {"split", "path"}:
                sys.exit(f"{name}: data_files entries must be {{split, path}}, got {entry}")
            path = os.path.join(folder, entry["path"])
            if not os.path.isfile(path):
                sys.exit(f"{name}/{entry['split']}: {entry['path']} does not exist")
            rows = [json.loads(line) for line in open(path, encoding="utf-8") if line.strip()]
            if not rows:
                sys.exit(f"{name}/{entry['split']}: {entry['path']} has no rows")
            keys = {tuple(sorted(r)) for r in rows}
            if len(keys) != 1:
                sys.exit(f"{name}/{entry['split']}: rows have different columns: {keys}")
            out[name][entry["split"]] = len(rows)
    json.dump({"configs": out, "default": [c["config_name"] for c in front["configs"] if c.get("default")]}, sys.stdout)


main()
