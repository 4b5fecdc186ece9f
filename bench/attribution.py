"""Attribution benchmark: whole processes, same Parquet file, ours against the peers.

    .venv/bin/python bench/attribution.py --journeys 1000000
    .venv/bin/python bench/attribution.py --journeys 5000000 --tools ours

Generates seeded journeys (ten channels, 1-20 touches, a few % converting; one row per
journey in channelattribution's layout) to Parquet, then runs every (tool, family) as a fresh
child process that reads that file and computes the credits. Prints, as a markdown table, the
median wall time over `--repeat` runs, the child's peak memory (ru_maxrss from os.wait4) and
how many times faster ours is. Peers: channelattribution (`markov_model` at its defaults and at
`conv_par=0.01`, `heuristic_models`) and marketing-attribution-models (MAM).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

CHANNELS = (
    "Direct",
    "Organic Search",
    "Paid Search",
    "Email",
    "Display",
    "Paid Social",
    "Organic Social",
    "Referral",
    "Affiliates",
    "Webinar",
)
MAX_TOUCHES = 20
OUR_HEURISTICS = (
    "first_touch,last_touch,last_non_direct,linear,time_decay,position_based,w_shaped,"
    "full_path,custom"
)


def generate(journeys: int, target: Path, *, seed: int = 7) -> None:
    """One row per journey: path, total_conversions, total_conversion_value, total_null.

    Runs in its own process (see `main`): a child's peak RSS as reported by wait4 starts from
    its parent's at spawn time on Linux, so the timing parent must stay small.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    n_channels = len(CHANNELS)
    first = rng.dirichlet(np.full(n_channels, 0.8))
    moves = 0.3 * np.eye(n_channels) + 0.7 * rng.dirichlet(np.full(n_channels, 0.5), n_channels)
    cumulative = np.cumsum(moves, axis=1)
    cumulative[:, -1] = 1.0
    lift = rng.normal(0.0, 0.6, n_channels)
    lengths = np.minimum(rng.geometric(0.25, journeys), MAX_TOUCHES)
    offsets = np.zeros(journeys + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    touches = np.empty(int(offsets[-1]), dtype=np.int32)
    current = np.minimum(np.searchsorted(np.cumsum(first), rng.random(journeys)), n_channels - 1)
    touches[offsets[:-1]] = current
    for position in range(1, MAX_TOUCHES):
        active = np.flatnonzero(lengths > position)
        draws = rng.random(active.size)
        current[active] = (draws[:, None] > cumulative[current[active]]).sum(axis=1)
        touches[offsets[active] + position] = current[active]
    present = np.zeros((journeys, n_channels), dtype=np.bool_)
    present[np.repeat(np.arange(journeys), lengths), touches] = True
    logit = -4.3 + present @ lift + 0.08 * lengths
    converted = (rng.random(journeys) < 1.0 / (1.0 + np.exp(-logit))).astype(np.int64)
    value = np.where(converted > 0, np.round(rng.lognormal(4.5, 0.6, journeys), 2), 0.0)
    names = pa.array(CHANNELS).take(pa.array(touches))
    paths = pc.binary_join(
        pa.ListArray.from_arrays(pa.array(offsets.astype(np.int32)), names), " > "
    )
    table = pa.table(
        {
            "path": paths,
            "total_conversions": converted,
            "total_conversion_value": value,
            "total_null": 1 - converted,
        }
    )
    pq.write_table(table, target)
    print(
        f"generated {journeys:,} journeys, {converted.mean():.2%} converting, "
        f"{lengths.mean():.2f} touches on average -> {target}",
        file=sys.stderr,
    )


# --- what each child process runs -------------------------------------------------------------

OURS = """
import sys, typer
from smarketing.cli.attribute_cmd import attribute
app = typer.Typer()
app.callback()(lambda: None)
app.command("attribute")(attribute)
typer.main.get_command(app).main(
    args=["attribute", sys.argv[1], *sys.argv[3].split(), "--format", "csv", "--out", sys.argv[2]],
    standalone_mode=False,
)
"""

CHANNELATTRIBUTION = """
import sys, pandas as pd, ChannelAttribution as ca
data = pd.read_parquet(sys.argv[1])
family = sys.argv[3]
if family == "heuristics":
    out = ca.heuristic_models(data, "path", "total_conversions",
                              var_value="total_conversion_value", flg_pro=False)
else:
    extra = {"conv_par": 0.01} if family == "markov-0.01" else {}
    out = ca.markov_model(data, "path", "total_conversions", var_value="total_conversion_value",
                          var_null="total_null", verbose=False, flg_pro=False, **extra)
pd.DataFrame(out).to_csv(sys.argv[2])
"""

MAM = """
import sys, polars as pl, mam
data = pl.read_parquet(sys.argv[1]).with_columns(
    has_conv=pl.col("total_conversions") > 0, occurrences=pl.lit(1, dtype=pl.Int64))
model = mam.MAM(data, format_type="grouped_journey", channels_colname="path",
                journey_with_conv_colname="has_conv", occurrences_colname="occurrences",
                conversion_value_colname="total_conversion_value")
family = sys.argv[3]
runs = {"markov": [model.run_markov], "shapley": [model.run_shapley],
        "heuristics": [model.run_first_click, model.run_last_click, model.run_linear,
                       model.run_position_based]}[family]
with open(sys.argv[2], "w") as out:
    for run in runs:
        out.write(run().to_polars().write_csv())
"""


@dataclass(frozen=True)
class Case:
    family: str
    tool: str
    script: str
    argument: str


CASES = (
    Case("markov", "smarketing", OURS, "--model markov"),
    Case("markov", "channelattribution markov_model (defaults)", CHANNELATTRIBUTION, "markov"),
    Case(
        "markov", "channelattribution markov_model conv_par=0.01", CHANNELATTRIBUTION, "markov-0.01"
    ),
    Case("markov", "marketing-attribution-models run_markov", MAM, "markov"),
    Case(
        "heuristics",
        "smarketing (9 rule-based models)",
        OURS,
        " ".join(f"--model {m}" for m in OUR_HEURISTICS.split(",")) + " --weights 0.3,0.3,0.4",
    ),
    Case("heuristics", "channelattribution heuristic_models", CHANNELATTRIBUTION, "heuristics"),
    Case("heuristics", "marketing-attribution-models (4 heuristics)", MAM, "heuristics"),
    Case("shapley", "smarketing", OURS, "--model shapley"),
    Case("shapley", "marketing-attribution-models run_shapley", MAM, "shapley"),
)


def tool_key(case: Case) -> str:
    if case.script is OURS:
        return "ours"
    return "channelattribution" if case.script is CHANNELATTRIBUTION else "mam"


@dataclass(frozen=True)
class Measurement:
    case: Case
    seconds: list[float]
    cpu_seconds: list[float]
    peak_kib: list[int]

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def cpu_median(self) -> float:
        return statistics.median(self.cpu_seconds)

    @property
    def peak_mib(self) -> float:
        return max(self.peak_kib) / 1024.0


def run_child(script: str, data: Path, argument: str, workdir: Path) -> tuple[float, float, int]:
    """Wall time, CPU time (user + system) and peak RSS (KiB) of one child process."""
    out = workdir / "credits.out"
    log = workdir / "child.log"
    argv = [sys.executable, "-c", script, str(data), str(out), argument]
    actions = [
        (os.POSIX_SPAWN_OPEN, 1, str(log), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644),
        (os.POSIX_SPAWN_DUP2, 1, 2),
    ]
    started = time.perf_counter()
    pid = os.posix_spawn(sys.executable, argv, os.environ, file_actions=actions)
    _, status, usage = os.wait4(pid, 0)
    elapsed = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"child failed ({argument}):\n{log.read_text(errors='replace')[-3000:]}")
    return elapsed, usage.ru_utime + usage.ru_stime, int(usage.ru_maxrss)


def measure_all(cases: list[Case], data: Path, repeat: int, workdir: Path) -> list[Measurement]:
    """Round-robin over the cases, so that load from elsewhere hits every tool alike."""
    seconds: dict[int, list[float]] = {i: [] for i in range(len(cases))}
    cpu: dict[int, list[float]] = {i: [] for i in range(len(cases))}
    peaks: dict[int, list[int]] = {i: [] for i in range(len(cases))}
    for _ in range(repeat):
        for i, case in enumerate(cases):
            elapsed, cpu_time, peak = run_child(case.script, data, case.argument, workdir)
            seconds[i].append(elapsed)
            cpu[i].append(cpu_time)
            peaks[i].append(peak)
            print(
                f"  {case.family:10s} {case.tool:50s} {elapsed:8.2f} s {cpu_time:8.2f} s cpu "
                f"{peak / 1024:8.0f} MiB",
                file=sys.stderr,
            )
    return [Measurement(case, seconds[i], cpu[i], peaks[i]) for i, case in enumerate(cases)]


def markdown(results: list[Measurement], journeys: int, repeat: int) -> str:
    ours = {m.case.family: m for m in results if tool_key(m.case) == "ours"}
    lines = [
        f"{journeys:,} journeys, median of {repeat} runs, whole processes "
        f"({os.cpu_count()} cores).",
        "",
        "| family | tool | median wall (s) | median CPU (s) | peak memory (MiB) "
        "| ours faster (wall) | ours faster (CPU) |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for m in results:
        mine = ours.get(m.case.family)
        if mine is None or m is mine:
            wall_ratio = cpu_ratio = "—"
        else:
            wall_ratio = f"{m.median / mine.median:.1f}x"
            cpu_ratio = f"{m.cpu_median / mine.cpu_median:.1f}x"
        lines.append(
            f"| {m.case.family} | {m.case.tool} | {m.median:.2f} | {m.cpu_median:.2f} "
            f"| {m.peak_mib:.0f} | {wall_ratio} | {cpu_ratio} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--journeys", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--tools",
        default="ours,channelattribution,mam",
        help="comma-separated subset of ours, channelattribution, mam",
    )
    parser.add_argument("--families", default="markov,heuristics,shapley")
    parser.add_argument("--data", type=Path, help="reuse this Parquet file instead of generating")
    parser.add_argument("--generate-to", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.generate_to is not None:
        generate(args.journeys, args.generate_to, seed=args.seed)
        return 0
    tools = set(args.tools.split(","))
    families = set(args.families.split(","))
    with tempfile.TemporaryDirectory(prefix="smarketing-bench-") as tmp:
        workdir = Path(tmp)
        data = args.data or workdir / f"journeys-{args.journeys}.parquet"
        if args.data is None:
            subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--journeys",
                    str(args.journeys),
                    "--seed",
                    str(args.seed),
                    "--generate-to",
                    str(data),
                ],
                check=True,
            )
        chosen = [case for case in CASES if tool_key(case) in tools and case.family in families]
        results = measure_all(chosen, data, args.repeat, workdir)
    print(markdown(results, args.journeys, args.repeat))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
