"""Start `fulfil_order` on Celery for a scenario file and watch it until it ends.

python -m fulfilment.start scenarios/happy_path.json
"""

from __future__ import annotations

import json
import sys
import time

import selinonc.runtime.celery as selinonc_celery
from fulfilment.celeryapp import app


def main(path: str) -> int:
    with open(path, encoding="utf-8") as handle:
        scenario = json.load(handle)
    flow = selinonc_celery.run_flow(scenario["flow"], scenario["node_args"], app=app)
    print(f"started {scenario['flow']} as {flow.id}")
    shown = ""
    while flow.outcome() is None:
        state = flow.state()
        line = (
            f"  finished: {sorted(state['finished_nodes'])}  "
            f"running: {sorted(n['name'] for n in state['active_nodes'])}"
        )
        if line != shown:
            print(line)
            shown = line
        time.sleep(0.1)
    status = flow.wait()
    print(f"{scenario['flow']}: {status}")
    return 0 if status == "succeeded" else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
