#!/usr/bin/python3
"""Runs the gRPC contract suite (tests/grpc/test_grpc_contract.py) against the
real genkit-endpoints binary; the ctest entry `grpc_python_tests` calls it.

    /usr/bin/python3 tests/grpc/run_python_tests.py \
        --binary build/supervisor/genkit-endpoints --fake build/tests/fake_llm [-k PATTERN] [-v]

It generates the Python stubs into a temp dir (protoc + grpc_python_plugin),
runs every test, and exits 0 only when every test ran and passed: a skipped
test, an error, a failure or no test at all is exit 1. Everything it started
is killed (process groups) on exit, on SIGTERM/SIGINT/SIGHUP, and by a
watchdog after --watchdog seconds.
"""

import argparse
import atexit
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
import unittest

sys.dont_write_bytecode = True  # no __pycache__ in the source tree (nor in the stub dir)

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.path.dirname(os.path.dirname(HERE))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", required=True, help="the genkit-endpoints supervisor binary")
    parser.add_argument("--fake", required=True, help="tests/fakes' fake_llm binary")
    parser.add_argument("-k", dest="patterns", action="append", default=[],
                        help="only tests whose name contains this (unittest -k; repeatable)")
    parser.add_argument("-q", dest="quiet", action="store_true", help="less output")
    parser.add_argument("--watchdog", type=float, default=240.0,
                        help="seconds after which everything is killed and the run fails")
    args = parser.parse_args()

    # The channels go straight to 127.0.0.1: no proxy, no fork handlers.
    for name in ("http_proxy", "https_proxy", "grpc_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        os.environ.pop(name, None)
    os.environ["GRPC_ENABLE_FORK_SUPPORT"] = "false"

    sys.path.insert(0, HERE)
    import harness  # noqa: E402  (after sys.path)

    def fatal_signal(signum, _frame):
        harness.kill_everything()
        sys.stderr.write("run_python_tests: signal %d, killed everything it started\n" % signum)
        os._exit(128 + signum)

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, fatal_signal)
    atexit.register(harness.kill_everything)

    def watchdog():
        harness.kill_everything()
        sys.stderr.write("run_python_tests: watchdog: still running after %.0f s, killed everything, FAIL\n"
                         % args.watchdog)
        sys.stderr.flush()
        os._exit(1)

    timer = threading.Timer(args.watchdog, watchdog)
    timer.daemon = True
    timer.start()

    stub_dir = tempfile.mkdtemp(prefix="genkit-grpc-stubs-")
    try:
        harness.CONFIG.update(binary=os.path.abspath(args.binary), fake=os.path.abspath(args.fake),
                              source_dir=SOURCE_DIR, stub_dir=stub_dir)
        for path, what in ((args.binary, "--binary"), (args.fake, "--fake")):
            if not os.access(path, os.X_OK):
                sys.stderr.write("run_python_tests: %s %s is not an executable file\n" % (what, path))
                return 1
        try:
            harness.generate_stubs(SOURCE_DIR, stub_dir)
        except Exception as e:  # noqa: BLE001  (any failure here is the run's failure)
            sys.stderr.write("run_python_tests: cannot generate the stubs: %s\n" % e)
            return 1
        sys.path.insert(0, stub_dir)

        loader = unittest.TestLoader()
        if args.patterns:
            loader.testNamePatterns = ["*%s*" % p for p in args.patterns]
        suite = loader.loadTestsFromName("test_grpc_contract")
        started = time.monotonic()
        runner = unittest.TextTestRunner(stream=sys.stdout, verbosity=1 if args.quiet else 2)
        result = runner.run(suite)
        elapsed = time.monotonic() - started
        ok = result.wasSuccessful() and not result.skipped and result.testsRun > 0
        if result.skipped:
            print("FAIL: %d test(s) skipped; this suite never skips:" % len(result.skipped))
            for test, why in result.skipped:
                print("  %s: %s" % (test.id(), why))
        if result.testsRun == 0:
            print("FAIL: no test ran")
        print("grpc_python_tests: %s (%d run, %d failures, %d errors, %.1f s)" % (
            "PASS" if ok else "FAIL", result.testsRun, len(result.failures), len(result.errors), elapsed))
        sys.stdout.flush()
        return 0 if ok else 1
    finally:
        timer.cancel()
        harness.kill_everything()
        shutil.rmtree(stub_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
