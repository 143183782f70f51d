"""Run with XLA_FLAGS=--xla_force_host_platform_device_count=4: sharded runs equal one-device runs.

Prints one line per comparison and exits non-zero on a mismatch.
"""
import sys

import jax

jax.config.update("jax_enable_x64", True)
import numpy as np  # noqa: E402

import mtlcomb_jax as mc  # noqa: E402
from mtlcomb_jax.simulate import simulate_mixed_tasks  # noqa: E402

devices = jax.devices()
assert len(devices) == 4, f"expected 4 host devices, got {len(devices)}"
Xs, ys, types, _ = simulate_mixed_tasks(2, 2, 20, 4, 40, seed=0)
data = mc.MultiTaskData.from_tasks(Xs, ys, types)

one = mc.cross_validate(data, n_folds=4, n_lambdas=6, devices=devices[:1])
four = mc.cross_validate(data, n_folds=4, n_lambdas=6, devices=devices)
diff_cv = max(np.abs(one.task_metric - four.task_metric).max(), np.abs(one.fold_lambdas - four.fold_lambdas).max())
print(f"cv: 4 devices vs 1, max abs difference {diff_cv:.2e}")

# A batch that does not divide over the devices is padded to use them all (5 folds on
# 2 devices: 6 rows; 5 subsamples on 4 devices: 3 devices, 6 rows); the padding is dropped.
one5 = mc.cross_validate(data, n_folds=5, n_lambdas=6, devices=devices[:1])
two5 = mc.cross_validate(data, n_folds=5, n_lambdas=6, devices=devices[:2])
s5_one = mc.stability_selection(data, n_subsamples=5, n_lambdas=6, devices=devices[:1])
s5_four = mc.stability_selection(data, n_subsamples=5, n_lambdas=6, devices=devices)
diff_padded = max(float(np.abs(one5.task_metric - two5.task_metric).max()),
                  float(np.abs(s5_one.frequencies - s5_four.frequencies).max()))
shapes_padded = (two5.task_metric.shape[0], two5.n_iter.shape[0], s5_four.frequencies.shape == s5_one.frequencies.shape)
print(f"padded batches: 5 folds on 2 devices and 5 subsamples on 4 vs 1 device, max abs difference "
      f"{diff_padded:.2e}, folds returned {shapes_padded}")

# With working sets (the loop over lambdas in Python, each device solving its own folds).
# Problems done early work ahead at the next lambda until the rest of their device's
# problems finish, so the next lambda's warm starts depend on the devices: the folds
# agree to the solver's accuracy, hence the tight tol.
one_s = mc.cross_validate(data, n_folds=4, n_lambdas=6, devices=devices[:1], screening=True, tol=1e-11)
four_s = mc.cross_validate(data, n_folds=4, n_lambdas=6, devices=devices, screening=True, tol=1e-11)
diff_screened = float(np.abs(one_s.task_metric - four_s.task_metric).max())
print(f"screened cv: 4 devices vs 1, max abs difference {diff_screened:.2e}")

s1 = mc.stability_selection(data, n_subsamples=8, n_lambdas=6, devices=devices[:1])
s4 = mc.stability_selection(data, n_subsamples=8, n_lambdas=6, devices=devices)
diff_sel = np.abs(s1.frequencies - s4.frequencies).max()
print(f"stability selection: 4 devices vs 1, max abs difference {diff_sel:.2e}")

s2 = mc.stability_selection(data, n_subsamples=6, n_lambdas=6, devices=devices)   # 6 subsamples: 3 devices used
print(f"stability selection with 6 subsamples on 4 devices ran: {s2.frequencies.shape}")
# The full data's path joins the folds' batch: with 3 folds that makes 4 problems on 4
# devices; with 4 folds 5 problems, padded to 6 on 3 devices.
reference = mc.fit_path(data, n_lambdas=6, screening=True)
diff_path = 0.0
for n_folds in (3, 4):
    cv = mc.cross_validate(data, n_folds=n_folds, n_lambdas=6, screening=True, return_path=True, devices=devices)
    ratio = np.asarray(cv.path.objective) / np.asarray(reference.objective)
    diff_path = max(diff_path, float(np.max(np.abs(ratio - 1))))
print(f"return_path on 4 devices: max relative objective difference {diff_path:.2e}")
# Progress bars count every problem when each device loops over its own share.
import mtlcomb_jax.progress as progress_module  # noqa: E402
ticks = []
counted = progress_module.advance
progress_module.advance = lambda done: (ticks.append(int(np.size(done))), counted(done))
mc.cross_validate(data, n_folds=4, n_lambdas=6, devices=devices, progress=True)
cv_ticks = sum(ticks)
mc.stability_selection(data, n_subsamples=8, n_lambdas=6, devices=devices, progress=True)
stability_ticks = sum(ticks) - cv_ticks
progress_module.advance = counted
print(f"progress on 4 devices: cv {cv_ticks} of 24, stability selection {stability_ticks} of 48")
# Sharding changes the rounding of reductions, and the solver's step-size choices depend on
# rounding, so the folds agree to the solver's accuracy (default gap tol), not bit for bit.
sys.exit(0 if diff_cv <= 1e-9 and diff_padded <= 1e-9 and shapes_padded == (5, 5, True)
         and diff_screened <= 1e-9 and diff_sel == 0 and diff_path <= 1e-9 and (cv_ticks, stability_ticks) == (24, 48)
         else 1)
