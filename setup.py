"""Build steps pyproject.toml cannot express: the Cython hot path and the gRPC stubs.

The stubs are generated into ``engine/v1/`` from ``proto/engine/v1/*.proto`` on every
build (wheel or editable), so the .proto files stay the single contract and generated
code is never committed.
"""

from __future__ import annotations

import glob
import os

from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))


def generate_stubs() -> None:
    """Run grpcio-tools' protoc over proto/ into the package (messages, .pyi, services)."""
    import grpc_tools
    from grpc_tools import protoc

    protos = sorted(glob.glob(os.path.join(HERE, "proto", "engine", "v1", "*.proto")))
    include = os.path.join(os.path.dirname(grpc_tools.__file__), "_proto")
    args = [
        "grpc_tools.protoc",
        f"-I{os.path.join(HERE, 'proto')}",
        f"-I{include}",
        f"--python_out={HERE}",
        f"--pyi_out={HERE}",
        f"--grpc_python_out={HERE}",
        *protos,
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")


class BuildPyWithStubs(build_py):
    def run(self) -> None:
        generate_stubs()
        super().run()


# Stubs are also generated when setup.py is merely evaluated for an editable install,
# because PEP 660 builds do not always run build_py over the source tree.
generate_stubs()

extensions = [
    Extension(
        "engine._hotpath",
        sources=["native/hotpath.pyx"],
        include_dirs=["native"],
        extra_compile_args=["-O3"],
    ),
    Extension(
        "engine._resp_scan",
        sources=["native/resp_scan.pyx"],
        extra_compile_args=["-O3"],
    ),
]

setup(
    ext_modules=cythonize(extensions, language_level=3,
                          compiler_directives={"boundscheck": False, "wraparound": False}),
    cmdclass={"build_py": BuildPyWithStubs},
)
