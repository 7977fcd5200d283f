"""Matcher benchmark: posts/s with many watches vs one alternation regex, memory, and scaling with watch count.

    python -m bench.matcher            # 10,000 watches x 200,000 posts, scaling 100 → 100,000 watches

Baselines in the same run, each the same matcher with only its term finding replaced (bench/finders.py):
pyahocorasick (exact) over the whole run, and one `re` alternation within a CPU budget.
    python -m bench.matcher --quick    # a small run

Posts and watches are synthetic and deterministic (seeded): English, Russian, German, Spanish, Chinese and
Arabic chatter of varied lengths (short posts to long forum posts) with threat-intel entities (actors,
malware, CVE ids, domains, handles, hashtags) mixed in; watches are words, phrases, boolean queries,
hashtags, accounts and field filters over those entities.
"""

from __future__ import annotations

import argparse
import gc
import random
import resource
import statistics
import time
import timeit
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from bench.finders import use_finder
from handlers.monitor.matcher import Matcher
from handlers.monitor.post import Author, Post
from handlers.monitor.query import Query, QueryError, parse_query
from handlers.monitor.scan import NATIVE

SEED = 20240501

_COMMON_TEXT = {
    "en": "the of and to in is for on that with this new are be at by from it as has have was not we our "
    "you all more can will they just about security attack data breach ransomware exploit patch vulnerability "
    "leak group server update report access credentials password phishing campaign malware users network "
    "today team look anyone know public released source code threat actor claims victims posted forum "
    "channel dump million records customers company government site down again still",
    "ru": "и в не на что с по это как из для мы все уже так вы но атака данные утечка взлом сервер "
    "пароль база доступ группа новый сегодня компания пользователи сайт слив продам куплю канал "
    "уязвимость обновление защита информация",
    "de": "der die und das ist nicht mit von für auf ein eine wir sie auch Angriff Daten Sicherheit "
    "Lücke Update Server heute neue Gruppe Unternehmen Zugang Passwort",
    "es": "el la de que y en los se del las por un para con una ataque datos seguridad filtración "
    "servidor contraseña grupo nuevo hoy empresa acceso usuarios",
    "zh": "的 了 是 在 我 有 和 就 不 人 都 一 个 上 也 很 到 说 要 去 你 会 着 没有 看 好 自己 这 "
    "攻击 数据 泄露 勒索 软件 漏洞 服务器 密码 黑客 组织 公司 用户 网站 安全 更新 今天",
    "ar": "في من على إلى أن هذا التي عن مع كان هجوم بيانات تسريب اختراق خادم كلمة مرور مجموعة "
    "شركة مستخدمين موقع أمن تحديث اليوم جديد برامج فدية ثغرة",
}
COMMON = {lang: words.split() for lang, words in _COMMON_TEXT.items()}
_SYLLABLE_TEXT = "ka ri to mu ne sa lo vi da ex zor bit lock cry pt on ix ur al en ba te go ra xo um ze qi"
SYLLABLES = _SYLLABLE_TEXT.split()
LANG_WEIGHTS = {"en": 50, "ru": 15, "de": 7, "es": 8, "zh": 10, "ar": 10}
SOURCES = ["hackernews", "mastodon", "bluesky", "reddit", "telegram", "rss", "lemmy", "github", "4chan"]
PUNCT = [",", ".", "!", "?", ":", " -", ";", ""]


@dataclass(frozen=True)
class World:
    """The synthetic vocabulary shared by posts and watches."""

    entities: list[str]  # actor / malware names, CVE ids, product names
    handles: list[str]
    domains: list[str]


def make_world(rng: random.Random, n_entities: int = 200_000) -> World:
    """Deterministic entity, handle and domain pools."""
    names: set[str] = set()
    while len(names) < n_entities * 0.85:
        names.add("".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))) + rng.choice(["", "", "", "3", "x"]))
    entities = sorted(names)
    entities += [f"CVE-{rng.randint(2015, 2025)}-{rng.randint(1000, 49999)}" for _ in range(n_entities - len(entities))]
    rng.shuffle(entities)
    handles = [f"{entities[rng.randrange(50_000)].lower()}_{i}" for i in range(50_000)]
    domains = [f"{e.lower()}.{rng.choice(['com', 'net', 'org', 'ru', 'io'])}" for e in entities[:20_000]]
    return World(entities=entities, handles=handles, domains=domains)


def _zipf_index(rng: random.Random, n: int, s: float = 1.1) -> int:
    """An index in [0, n) drawn roughly Zipf-like (small indices far more often)."""
    return min(n - 1, int(n ** rng.random() ** s) - 1)


def make_posts(rng: random.Random, world: World, count: int) -> list[Post]:
    """`count` posts of varied language and length mentioning entities now and then."""
    langs, weights = list(LANG_WEIGHTS), list(LANG_WEIGHTS.values())
    created = datetime(2024, 5, 1, tzinfo=UTC)
    posts = []
    for i in range(count):
        lang = rng.choices(langs, weights)[0]
        words = COMMON[lang]
        size = rng.choices([rng.randint(4, 25), rng.randint(25, 80), rng.randint(80, 400)], [70, 25, 5])[0]
        parts, hashtags, urls = [], [], []
        for _ in range(size):
            roll = rng.random()
            if roll < 0.04:
                parts.append(world.entities[_zipf_index(rng, len(world.entities))])
            elif roll < 0.05:
                tag = rng.choice([world.entities[_zipf_index(rng, 5000)], rng.choice(words)]).lower()
                parts.append(f"#{tag}")
                hashtags.append(tag)
            elif roll < 0.055:
                url = f"https://{rng.choice(world.domains)}/{rng.randint(1, 99999)}"
                parts.append(url)
                urls.append(url)
            elif roll < 0.06:
                parts.append("@" + rng.choice(world.handles))
            else:
                word = words[_zipf_index(rng, len(words), 0.8)]
                parts.append(word.capitalize() if rng.random() < 0.1 else word)
            if rng.random() < 0.12:
                parts[-1] += rng.choice(PUNCT)
        sep = "" if lang == "zh" and rng.random() < 0.7 else " "
        posts.append(Post(
            source=rng.choice(SOURCES), source_id=str(i), text=sep.join(parts), created_at=created,
            author=Author(handle=rng.choice(world.handles)), lang=lang, hashtags=hashtags, urls=urls,
        ))
    return posts


def make_watches(rng: random.Random, world: World, count: int) -> list[Query]:
    """`count` watch queries of the mix analysts write."""
    def entity() -> str:
        return rng.choice(world.entities)

    def common() -> str:
        return rng.choice(COMMON[rng.choices(list(LANG_WEIGHTS), list(LANG_WEIGHTS.values()))[0]][20:])

    shapes: list[tuple[int, Callable[[], str]]] = [
        (35, entity),
        (12, lambda: f'"{entity()} {common()}"'),
        (8, lambda: f"{entity()} OR {entity()} OR {entity()}"),
        (10, lambda: f"{entity()} {common()} -{common()}"),
        (8, lambda: f"({entity()} OR {entity()}) ({common()} OR {common()}) -#{entity().lower()}"),
        (10, lambda: f"#{entity().lower()}"),
        (8, lambda: f"@{rng.choice(world.handles)}"),
        (4, lambda: f"domain:{rng.choice(world.domains)}"),
        (3, lambda: f"{entity()} source:{rng.choice(SOURCES)} lang:{rng.choice(list(LANG_WEIGHTS))}"),
        (2, lambda: f"{entity()} /{entity().lower()[:4]}\\d+/"),
    ]
    weights, makers = zip(*shapes, strict=True)
    queries = []
    while len(queries) < count:
        try:
            queries.append(parse_query(rng.choices(makers, weights)[0]()))
        except QueryError:
            continue
    return queries


def peak_rss_mib() -> float:
    """Peak resident set size of this process in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def build(queries: list[Query]) -> tuple[Matcher, float, float]:
    """A matcher over the queries, its build time (CPU s) and the memory it holds (MiB, tracemalloc: Python
    objects and the token index; the queries themselves are not counted)."""
    gc.collect()
    started = time.process_time()
    Matcher().add_many((i, q, None) for i, q in enumerate(queries, 1))
    build_s = time.process_time() - started
    tracemalloc.start()
    matcher = Matcher()
    matcher.add_many((i, q, None) for i, q in enumerate(queries, 1))
    held = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return matcher, build_s, held / 2**20


def throughput(
    match: Callable[[Post], list[object]], posts: list[Post], budget: float | None = None
) -> tuple[float, int, int]:
    """Posts per CPU second over `posts` (stopping after `budget` CPU seconds), matches found, posts done."""
    found = 0
    done = 0
    gc.disable()
    started = time.process_time()
    for post in posts:
        found += len(match(post))
        done += 1
        if budget is not None and done % 50 == 0 and time.process_time() - started > budget:
            break
    elapsed = time.process_time() - started
    gc.enable()
    return done / elapsed, found, done


def best_throughput(match: Callable[[Post], list[object]], posts: list[Post], passes: int) -> tuple[float, float, int]:
    """Best and median posts per CPU second over several passes (shared machines are noisy), and matches."""
    rates = []
    for _ in range(passes):
        rate, found, _ = throughput(match, posts)
        rates.append(rate)
    return max(rates), statistics.median(rates), found


def interleaved_rates(
    matchers: dict[int, Matcher], posts: list[Post], passes: int, chunk: int = 500
) -> dict[int, float]:
    """Posts per CPU second of each matcher, measured chunk by chunk in turn, so that a slow spell of the
    machine falls on all of them alike (the scaling ratio compares them); best pass of each."""
    best: dict[int, float] = {}
    for _ in range(passes):
        spent = dict.fromkeys(matchers, 0.0)
        gc.disable()
        for start in range(0, len(posts), chunk):
            part = posts[start : start + chunk]
            for n, matcher in matchers.items():
                began = time.process_time()
                for post in part:
                    matcher.match(post)
                spent[n] += time.process_time() - began
        gc.enable()
        for n, seconds in spent.items():
            best[n] = max(best.get(n, 0.0), len(posts) / seconds)
    return best


def pass_rates(
    matchers: dict[str, Matcher], posts: list[Post], passes: int, chunk: int = 500
) -> dict[str, list[float]]:
    """Posts per CPU second of each matcher in each pass, measured chunk by chunk in turn, so that a slow
    spell of the machine falls on all of them alike."""
    rates: dict[str, list[float]] = {name: [] for name in matchers}
    for _ in range(passes):
        spent = dict.fromkeys(matchers, 0.0)
        gc.disable()
        for start in range(0, len(posts), chunk):
            part = posts[start : start + chunk]
            for name, matcher in matchers.items():
                began = time.process_time()
                for post in part:
                    matcher.match(post)
                spent[name] += time.process_time() - began
        gc.enable()
        for name, seconds in spent.items():
            rates[name].append(len(posts) / seconds)
    return rates


def tokens_in_linearity() -> None:
    """tokens_in over a post whose every token is indexed, at two sizes: linear work grows 16x, not 256x."""
    import sys

    from handlers.monitor._scan import token_set, tokens_in

    costs = {}
    for n in (4_000, 64_000):
        hashes = b"".join((k * 0x9E3779B97F4A7C15 % 2**64 | 1).to_bytes(8, sys.byteorder) for k in range(n))
        table = token_set(hashes)
        costs[n] = min(timeit.repeat(lambda t=table, h=hashes: tokens_in(t, h), number=3, repeat=5)) / 3
    print(f"\ntokens_in, a post of 4,000 / 64,000 tokens all indexed: {costs[4_000] * 1e3:.2f} / "
          f"{costs[64_000] * 1e3:.2f} ms = {costs[64_000] / costs[4_000]:.1f}x for 16x the tokens (linear: ~16x; "
          "the former repeat check was quadratic: 256x)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small run (2,000 watches, 20,000 posts)")
    args = parser.parse_args(argv)
    n_watches, n_posts = (2_000, 20_000) if args.quick else (10_000, 200_000)
    passes = 2 if args.quick else 5
    scale = [100, 1_000, 10_000] if args.quick else [100, 1_000, 10_000, 100_000]
    baseline_budget = 5.0 if args.quick else 30.0

    calibration = min(timeit.repeat("sum(range(1000))", timer=time.process_time, number=2000, repeat=5)) / 2000 * 1e6
    print(f"CPU reference: sum(range(1000)) takes {calibration:.1f} µs on this machine (to compare machines)")
    rng = random.Random(SEED)
    started = time.perf_counter()
    world = make_world(rng)
    posts = make_posts(rng, world, n_posts)
    all_queries = make_watches(random.Random(SEED + 1), world, max([*scale, n_watches]))
    chars = sum(len(p.full_text) for p in posts)
    non_ascii = sum(not p.full_text.isascii() for p in posts)
    print(f"generated {n_posts:,} posts (mean {chars / n_posts:.0f} chars, {non_ascii / n_posts:.0%} non-ASCII) "
          f"and {len(all_queries):,} queries in {time.perf_counter() - started:.1f} s")

    queries = all_queries[:n_watches]
    matcher, build_s, added_mib = build(queries)
    print(f"\nscan: {'C' if NATIVE else 'Python (the C scan is not compiled)'}; matcher build {build_s:.2f} s, "
          f"memory {added_mib:.0f} MiB")
    # The baselines are the same matcher with only the term finding replaced (bench/finders.py): same folding
    # and tokens, same anchors, same candidates, same compiled boolean tests.
    rivals = {"matcher": matcher, "pyahocorasick": use_finder(build(queries)[0], "ahocorasick")}
    rates = pass_rates(rivals, posts, passes)
    found = {name: sum(len(m.match(p)) for p in posts) for name, m in rivals.items()}
    for name, passes_done in rates.items():
        print(f"{name:>14}, {n_watches:,} watches: min {min(passes_done):,.0f}, median "
              f"{statistics.median(passes_done):,.0f}, best {max(passes_done):,.0f} posts/s (CPU time, one core, "
              f"{passes} passes); {found[name]:,} matches ({found[name] / n_posts:.2f}/post)")
    ours = statistics.median(rates["matcher"])
    print(f"ratio matcher / pyahocorasick (medians): {ours / statistics.median(rates['pyahocorasick']):.1f}x")

    started = time.process_time()
    regex = use_finder(build(queries)[0], "regex")
    compile_s = time.process_time() - started
    base_rate, base_found, base_done = throughput(regex.match, posts, budget=baseline_budget)
    checked = sum(len(matcher.match(p)) for p in posts[:base_done])
    print(f"alternation regex: {base_rate:,.0f} posts/s (CPU budget {baseline_budget:.0f} s: the first "
          f"{base_done:,} posts, {base_found:,} matches there vs {checked:,} for the matcher); build {compile_s:.1f} s")
    print(f"ratio matcher / alternation regex: {ours / base_rate:,.0f}x (median pass of the matcher)")
    del regex, rivals, matcher
    gc.collect()
    if NATIVE:
        tokens_in_linearity()

    print("\nscaling (same posts, the matchers measured in turn on each chunk of posts):")
    scale_posts = posts if not args.quick else posts[:10_000]
    matchers, builds = {}, {}
    for n in scale:
        matchers[n], build_s, added_mib = build(all_queries[:n])
        found = sum(len(matchers[n].match(p)) for p in scale_posts[:20_000])
        builds[n] = (build_s, added_mib, found / min(20_000, len(scale_posts)))
    rates = interleaved_rates(matchers, scale_posts, passes=2)
    print(f"{'watches':>9} {'posts/s':>10} {'matches/post':>13} {'build s':>8} {'memory MiB':>11}")
    for n in scale:
        build_s, added_mib, per_post = builds[n]
        print(f"{n:>9,} {rates[n]:>10,.0f} {per_post:>13.2f} {build_s:>8.2f} {added_mib:>11.1f}")
    print(f"throughput at {scale[-1]:,} watches = {rates[scale[-1]] / rates[scale[0]]:.2f} x that at {scale[0]:,}")
    print(f"peak RSS of the benchmark process: {peak_rss_mib():.0f} MiB")


if __name__ == "__main__":
    main()
