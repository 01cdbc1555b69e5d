"""Run by test_federated.py: the default recipe (the server's pre-training on its own voices, then
federated rounds) under an audit hook that fails on any server-side open of a path inside a phone
store. The phones' feature caches are built first (on the phones)."""

import sys
from pathlib import Path

from data_tools.fleet import Fleet
from orchestrator.central import prepare_caches
from orchestrator.federated import FederatedConfig
from orchestrator.phase_choice import prepare_scoring
from orchestrator.pretraining import PretrainConfig, train_pretrained


def main() -> None:
    fleet = Fleet(sys.argv[1])
    config = FederatedConfig(rounds=2, clients_per_round=3, eval_every=1)
    prepare_caches(fleet, fleet.training_ids() + fleet.validation_ids(), config.pipeline)  # device side
    prepare_scoring(fleet, config.pipeline.window)  # the validation phones' and streams' own counts
    phones = str((Path(sys.argv[1]) / "phones").resolve())
    opened = []

    def audit(event, args):
        if event in ("open", "os.listdir", "os.scandir") and args and isinstance(args[0], (str, bytes, Path)):
            path = str(Path(args[0] if not isinstance(args[0], bytes) else args[0].decode()).resolve())
            if path.startswith(phones):
                opened.append(path)
                raise PermissionError(f"server side opened a phone's data: {path}")

    sys.addaudithook(audit)
    # phase 1 runs in a child process (orchestrator.isolated) given only the phrase, the settings
    # and the server's cache folder, and its synthesis in processes that child spawns: none of them
    # is told where the phones are
    server = PretrainConfig(server_voices=2, server_clip_share=0.1, server_epochs=1)
    cache = Path(sys.argv[2]).parent / "server-cache"
    description = train_pretrained(fleet, sys.argv[2], config, server, cache=cache, prepare=False)
    last = description.history[-1]
    chosen = description.selection["shipped"]  # chosen by the phones' counts, in their computations
    rounds = len(description.history)
    print(f"rounds={rounds} opened={len(opened)} chosen={chosen} loss={last['train_loss']:.4f}")


if __name__ == "__main__":  # the server's synthesis spawns processes that import this module
    main()
