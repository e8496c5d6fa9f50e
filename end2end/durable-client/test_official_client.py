"""Drives a running Scaleboard with the official Durable Functions Python client.

`azure-functions-durable`'s `DurableOrchestrationClient` is pointed at
`<server>/runtime/webhooks/durabletask/` as its RPC base URL, exactly as an Azure Functions host
hands it to a client function, and goes through start, status, list with filters, raise event,
suspend, resume, terminate, restart and purge.

Run by `cargo xtask test` with SCALEBOARD_BASE_URL set, against a server with no cluster model
and no operator key (a function host's RPC endpoint is local and takes none): nothing computes,
so a run stays Running until its items are completed through raised events, as the original
demo's Event Grid function completed them. Every wait is bounded.
"""

import asyncio
import datetime
import json
import os
import time
import unittest
import uuid

from azure.durable_functions import DurableOrchestrationClient
from azure.durable_functions.models.OrchestrationRuntimeStatus import (
    OrchestrationRuntimeStatus as Status,
)

BASE = os.environ["SCALEBOARD_BASE_URL"].rstrip("/")
RPC = f"{BASE}/runtime/webhooks/durabletask/"
ORCHESTRATOR = "ComputeOrchestrator"
INPUT = {"inputCount": 3, "cost": 0}
TIMEOUT_S = 60


def client() -> DurableOrchestrationClient:
    """A client as a function host would build it from the binding's JSON."""
    binding = {
        "taskHubName": "scaleboard",
        "creationUrls": {},
        "managementUrls": {"id": "INSTANCEID"},
        "rpcBaseUrl": RPC,
    }
    return DurableOrchestrationClient(json.dumps(binding))


def run(coroutine):
    """Runs one test's coroutine, closing the client's shared HTTP session in the same loop."""
    from azure.durable_functions.models.utils import http_utils

    async def and_close():
        try:
            return await coroutine
        finally:
            await http_utils._close_session()

    return asyncio.run(and_close())


async def complete(c, instance_id, items=3):
    """Completes every item with a raised event, value 10 × item."""
    for item in range(items):
        await c.raise_event(instance_id, "ComputeComplete", {"item": item, "value": 10 * item})


async def wait_for(c, instance_id, statuses):
    deadline = time.monotonic() + TIMEOUT_S
    while True:
        status = await c.get_status(instance_id)
        if status.runtime_status in statuses:
            return status
        if time.monotonic() > deadline:
            raise AssertionError(
                f"{instance_id} is {status.runtime_status}, not one of {statuses}, "
                f"after {TIMEOUT_S} s"
            )
        await asyncio.sleep(0.2)


class OfficialClient(unittest.TestCase):
    def test_start_status_and_completion(self):
        async def go():
            c = client()
            instance_id = await c.start_new(ORCHESTRATOR, None, INPUT)
            self.assertEqual(len(instance_id), 32)
            status = await wait_for(c, instance_id, [Status.Running])
            self.assertEqual(status.instance_id, instance_id)
            self.assertEqual(status.name, ORCHESTRATOR)
            self.assertEqual(status.input_["inputCount"], 3)
            self.assertIsNone(status.output)
            await complete(c, instance_id)
            done = await wait_for(c, instance_id, [Status.Completed])
            self.assertEqual(done.output["completed"], 3)
            self.assertEqual(done.output["sum"], 0 + 10 + 20)
            self.assertEqual(done.custom_status["total"], 3)
            self.assertIsNotNone(done.created_time)
            self.assertGreaterEqual(done.last_updated_time, done.created_time)

        run(go())

    def test_start_under_a_chosen_id_and_conflict(self):
        async def go():
            c = client()
            chosen = f"client-{uuid.uuid4().hex[:12]}"
            self.assertEqual(await c.start_new(ORCHESTRATOR, chosen, INPUT), chosen)
            with self.assertRaises(Exception):
                await c.start_new(ORCHESTRATOR, chosen, INPUT)
            self.assertEqual((await c.get_status(chosen)).instance_id, chosen)

        run(go())

    def test_unknown_orchestrator_and_bad_input_are_refused(self):
        async def go():
            c = client()
            with self.assertRaises(Exception):
                await c.start_new("NoSuchOrchestrator", None, INPUT)
            with self.assertRaises(Exception):
                await c.start_new(ORCHESTRATOR, None, {"inputCount": 0})

        run(go())

    def test_list_all_and_by_filters(self):
        async def go():
            c = client()
            before = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=5)
            prefix = f"listed-{uuid.uuid4().hex[:8]}"
            ids = [f"{prefix}-{i}" for i in range(2)]
            for instance_id in ids:
                await c.start_new(ORCHESTRATOR, instance_id, INPUT)
                await wait_for(c, instance_id, [Status.Running])
                await complete(c, instance_id)
            for instance_id in ids:
                await wait_for(c, instance_id, [Status.Completed])
            everything = {s.instance_id for s in await c.get_status_all()}
            self.assertTrue(set(ids) <= everything)
            completed = await c.get_status_by(
                created_time_from=before, runtime_status=[Status.Completed]
            )
            self.assertTrue(set(ids) <= {s.instance_id for s in completed})
            self.assertTrue(all(s.runtime_status == Status.Completed for s in completed))
            terminated = await c.get_status_by(
                created_time_from=before, runtime_status=[Status.Terminated]
            )
            self.assertFalse(set(ids) & {s.instance_id for s in terminated})
            by_prefix = await c.get_status_by(instance_id_prefix=prefix)
            self.assertEqual(sorted(s.instance_id for s in by_prefix), ids)

        run(go())

    def test_raise_suspend_resume_terminate_restart_purge(self):
        async def go():
            c = client()
            instance_id = await c.start_new(ORCHESTRATOR, None, INPUT)
            await wait_for(c, instance_id, [Status.Running])
            # An external completion, sent the client's way (the payload encoded twice).
            await c.raise_event(instance_id, "ComputeComplete", {"item": 2, "value": 7})
            status = await c.get_status(instance_id)
            self.assertEqual(status.custom_status["completed"], 1)
            # A completion without its value is refused, not counted as 0.
            with self.assertRaises(Exception):
                await c.raise_event(instance_id, "ComputeComplete", {"item": 1})

            await c.suspend(instance_id, "pause for the audience")
            await wait_for(c, instance_id, [Status.Suspended])
            await c.resume(instance_id, "go on")
            await wait_for(c, instance_id, [Status.Running])
            await c.terminate(instance_id, "enough")
            terminated = await wait_for(c, instance_id, [Status.Terminated])
            self.assertEqual(terminated.terminateReason, "enough")
            # A finished run takes no more events: 410, which the client reports as gone.
            with self.assertRaisesRegex(Exception, "gone"):
                await c.raise_event(instance_id, "ComputeComplete", {"item": 1, "value": 1})

            restarted = await c.restart(instance_id)
            new_id = restarted["id"] if isinstance(restarted, dict) else restarted
            self.assertNotEqual(new_id, instance_id)
            fresh = await c.get_status(new_id)
            self.assertEqual(fresh.input_, terminated.input_)
            await c.terminate(new_id, "done")
            await wait_for(c, new_id, [Status.Terminated])

            purged = await c.purge_instance_history(instance_id)
            self.assertEqual(purged.instances_deleted, 1)
            gone = await c.purge_instance_history(instance_id)
            self.assertEqual(gone.instances_deleted, 0)
            self.assertFalse(await c.get_status(instance_id))
            await c.purge_instance_history(new_id)

        run(go())


if __name__ == "__main__":
    unittest.main(verbosity=2)
