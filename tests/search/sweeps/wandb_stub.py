"""A program that reads its parameters only from wandb.config (offline wandb.init)."""

import json
import os

import wandb

run = wandb.init()
config = dict(run.config)
with open(os.path.join(os.environ["DNO_TRIAL_DIR"], "wandb_config.json"), "w") as handle:
    json.dump(config, handle)
print(json.dumps({"epoch": 0, "val_loss": config["lr"]}))
run.finish()
