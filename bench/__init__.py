"""The benchmark suite (`make bench`): Dependable against a raw baseline doing the same work.

    bench/settings.py  where the bench's database and Redis are, and the servers' environment
    bench/data.py      the data set (a database of its own, 100,000 tasks) and the tokens
    bench/baseline.py  the raw baseline: Starlette + asyncpg + python-jose + orjson
    bench/floor.py     a tiny FastAPI app: an empty route and one with ten trivial dependencies
    bench/run.py       the runner: pins, loads with wrk, profiles, writes docs/benchmarks.md

See docs/benchmarks.md for the method and the latest results.
"""
