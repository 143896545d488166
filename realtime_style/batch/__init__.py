"""`batch`: many videos, long ones split at keyframes, on a local process pool or a Ray cluster.

plan (inputs, names, keyframe segments) -> scheduler (units to an executor's workers: local.py,
ray_executor.py) -> worker (a whole file through convert's path, or one segment) -> join
(segments remuxed, audio muxed once); state keeps OUTDIR/batch.json.
"""
