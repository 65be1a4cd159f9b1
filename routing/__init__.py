"""Routing (分办): classify each report and send it to the right group.

It depends on nothing above it (`core` only): it takes text and a deployment and returns
labels, a unit and a group. This package must run without Flask; `init_app` is its hook into
the product.
"""


def init_app(app) -> None:
    from routing.cli import routing_cli
    from routing.jobs import requeue_unrouted, retrain_if_changed

    app.cli.add_command(routing_cli)
    jobs = app.extensions["jobs"]
    jobs.every("*/10 * * * *", requeue_unrouted)
    # Staff corrections and imported history teach the next model; a big history trains for
    # minutes (50,000 rows: ~8), far past RQ's default timeout.
    jobs.every("30 2 * * *", retrain_if_changed, timeout=3 * 3600)
