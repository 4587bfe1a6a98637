"""`keycare runjob <request id>`: run a daily-run request made in the web UI.

Started detached by ``keycare.runs.jobs.launch``; can also be run by hand (e.g. to
retry after the machine restarted). Idempotent: a request that is not queued is left alone.
Exit code 0 when the run succeeded, 2 when it failed (the reason is on the request).
"""

from keycare.core.commands import KeycareCommand
from keycare.errors import UserError
from keycare.runs.jobs import execute
from keycare.runs.models import RunRequestStatus


class Command(KeycareCommand):
    help = "Run a queued daily-run request (started by the web UI) and load the result."
    needs_database = "require"  # started by the application, on its database

    def add_arguments(self, parser):
        parser.add_argument("request_id", type=int, help="the RunRequest id")

    def run(self, *args, **opts):
        request = execute(opts["request_id"])
        if request.status != RunRequestStatus.SUCCEEDED:
            raise UserError(f"运行申请 {request.pk} 失败 (failed): {request.error}")
        self.stdout.write(
            f"运行申请 {request.pk} 完成 (succeeded): 批次 {request.run.run_id if request.run else '-'}"
        )
