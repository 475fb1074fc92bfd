"""A stand-in training program: records what it received, then reports a metric per epoch.

It writes ``received.json`` into the trial's folder (``DNO_TRIAL_DIR``): its argv, working
folder, seed, W&B's config file (``WANDB_SWEEP_PARAM_PATH``) and, when passed, the args-JSON
file. It then prints ``{"epoch": e, "<metric>": value}`` for e = 0, 1, ..., epochs - 1, where the
config file's ``curve`` (a list, one value per epoch) or ``quality`` (every epoch) gives the
values, ``metric`` names the metric (``val_loss``) and ``epochs`` their count (4); ``repeat``
prints each line twice. A config ``fail: true`` exits with status 1.
"""

import json
import os
import sys
import time

import yaml

path = os.environ["WANDB_SWEEP_PARAM_PATH"]
with open(path) as handle:
    text = handle.read()
config = {k: v["value"] for k, v in (yaml.safe_load(text) or {}).items() if k != "wandb_version"}
received = {
    "argv": sys.argv[1:],
    "cwd": os.getcwd(),
    "seed": os.environ.get("DNO_SEED"),
    "config_file": text,
    "pid": os.getpid(),
    "wandb_mode": os.environ.get("WANDB_MODE"),
}
for item in sys.argv[1:]:
    if item.endswith(".json") and os.path.isfile(item):
        with open(item) as handle:
            received["args_json_file"] = handle.read()
with open(os.path.join(os.environ["DNO_TRIAL_DIR"], "received.json"), "w") as handle:
    json.dump(received, handle)
if config.get("fail"):
    print("the stub was asked to fail", file=sys.stderr)
    sys.exit(1)
metric = config.get("metric", "val_loss")
epochs = int(config.get("epochs", 4))
curve = config.get("curve") or [config.get("quality", 1.0)] * epochs
for epoch, value in enumerate(curve[:epochs]):
    for _ in range(2 if config.get("repeat") else 1):  # a repeated step makes Optuna warn
        print(json.dumps({"epoch": epoch, metric: value}), flush=True)
    time.sleep(float(config.get("pause", 0.0)))
