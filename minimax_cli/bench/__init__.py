"""`minimax bench`: throughput and memory of the hybrid runtime, its kernels, and ingestion, on
random weights (stack.py); one module per benchmark, shared measurement in measure.py. The CLI
(cli/bench_cmd.py) and tests import everything from here."""

from minimax_cli.bench.decode import bench_decode, bench_decode_reference, step_bytes
from minimax_cli.bench.fit import bench_plan, check_host_fits
from minimax_cli.bench.generate import bench_generate
from minimax_cli.bench.ingest import bench_ingest
from minimax_cli.bench.kernels import bench_kernels
from minimax_cli.bench.measure import (copy_bandwidth, devices_of, matmul_peak_tflops, memory_report, reset_peaks,
                                       sync)
from minimax_cli.bench.native import native_prefill, write_hf_checkpoint
from minimax_cli.bench.prefill import bench_prefill, prefill_flops
from minimax_cli.bench.projection import layer_costs, project
from minimax_cli.bench.stack import Shape, random_model, random_tokens

__all__ = [
    "Shape", "bench_decode", "bench_decode_reference", "bench_generate", "bench_ingest", "bench_kernels",
    "bench_plan", "bench_prefill", "check_host_fits", "copy_bandwidth", "devices_of", "layer_costs",
    "matmul_peak_tflops", "memory_report", "native_prefill", "prefill_flops", "project", "random_model",
    "random_tokens", "reset_peaks", "step_bytes", "sync", "write_hf_checkpoint",
]
