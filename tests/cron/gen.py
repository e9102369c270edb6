#!/usr/bin/python3
"""gen.py — fixtures for tests/unit/test_cron.c from an independent implementation.

    /usr/bin/python3 tests/cron/gen.py > tests/cron/fixtures.txt

Needs Debian 12's python3-croniter (1.3.5), python3-tz and tzdata; the C test
only reads the output, so CI does not need any of them. Deterministic (fixed
seed): rerunning gives the same file for the same tzdata and croniter.

Two kinds of lines (tab-separated):

  C <expr> <zone> <start> <deltas>
      the next 1000 fire times strictly after <start> (Unix seconds): each
      delta is minutes from the previous time (the first from <start>), and
      "N*K" stands for K deltas of N.
  Z <zone> <t>:<offset>,...
      every UTC offset change between 1900 and 2100 according to Python's
      zoneinfo (which reads the same TZif files, including the POSIX footer
      after 2037): the offset (seconds east) from instant t on.

How croniter is used, and where it is not trusted:
  * Each fire time is croniter(expr, previous fire as a pytz-aware datetime)
    .get_next(): a fresh iterator per step, i.e. the pure function
    next(after) that std_cron_next is. A long-lived croniter iterator keeps
    DST state that makes it repeat or go back in time around transitions
    ("30 * * * *" in New York gives 01:30 EST twice on the spring day).
  * pytz, not zoneinfo: croniter 1.3.5 with zoneinfo shifts daily jobs by an
    hour after every transition. Debian's pytz reads only the 32-bit TZif
    data, which ends in 2037, so fire times in DST zones stay before 2037.
  * Departures kept out of the comparison (test_cron.c covers them by hand):
      - the day rule: croniter ORs the day fields whenever both are
        restricted after expansion, so a field starting with '*' but
        restricted ("*/2", "*/3") or one spelled in full without '*'
        ("1-31", "SUN-SAT") next to a restricted other day field is not
        generated; neither is '#' or last-weekday next to a restricted day
        of month (croniter then ANDs them).
      - W, L-n, LW: croniter has none. nL (last weekday n) is written L<n>
        for croniter ("5L" here is "L5" there).
      - a day of month beyond the end of a month: from Feb 17 with days
        1,16,31 croniter jumps 14 days to Mar 3 and misses Mar 1. Day sets
        with such a jump over a listed day (max - min >= 28) are not made.
      - DST for expressions whose hour field is restricted. croniter does
        the wall-clock arithmetic in the offset of the previous fire and
        corrects the result only when it is at least about a day later
        (its "hours before midnight" test): "44 */12 * * *" in Berlin gives
        13:44 CEST after 00:44 CET on the spring day. In a gap it fires an
        hour early ("0 2 * * *" fires at 01:00 CET), in an overlap once or
        twice depending on the distance to midnight. So for these
        expressions a span is only used when the hours avoid the local hours
        touched by a transition and every pair of consecutive fires on both
        sides of a transition falls on two different local dates (then the
        correction applies and is right).
      - DST for expressions with every hour: croniter agrees (skip the gap,
        fire in both copies of a repeated hour) except when a transition is
        at midnight (Sao Paulo before 2019), where it loops or skips; such
        spans are not generated.
"""
import datetime
import random
import sys
from zoneinfo import ZoneInfo

import pytz
from croniter import croniter

N = 1000
ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Australia/Sydney",
         "Asia/Kolkata", "America/Sao_Paulo", "Pacific/Chatham"]
DST_LIMIT = datetime.datetime(2037, 1, 1, tzinfo=datetime.timezone.utc).timestamp()

# --- zone transitions (zoneinfo) ---------------------------------------------


def offset(zi, t):
    return int(datetime.datetime.fromtimestamp(t, zi).utcoffset().total_seconds())


def transitions(zone, t0=-2208988800, t1=4102444800):
    """Every offset change in [t0, t1) as (instant, offset before, offset after)."""
    zi = ZoneInfo(zone)
    out = []
    step = 6 * 3600
    t, o = t0, offset(zi, t0)
    while t < t1:
        o2 = offset(zi, t + step)
        if o2 != o:
            lo, hi = t, t + step  # offset(lo) == o, offset(hi) != o
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if offset(zi, mid) == o:
                    lo = mid
                else:
                    hi = mid
            out.append((hi, o, offset(zi, hi)))
            o = offset(zi, hi)
            t = hi
            continue
        t += step
    return out


TRANS = {z: transitions(z) for z in ZONES}


def touched_hours(zone, t0, t1):
    """Local hours touched by a gap or overlap of a transition in [t0, t1]."""
    hours = set()
    for at, before, after in TRANS[zone]:
        if t0 - 86400 <= at <= t1 + 86400:
            lo, hi = sorted((at + before, at + after))  # local seconds
            for s in range(lo - lo % 3600, hi, 3600):
                hours.add(s // 3600 % 24)
    return hours

# --- croniter ------------------------------------------------------------------


def croniter_fires(cexpr, zone, start):
    z = pytz.timezone(zone)
    cur = datetime.datetime.fromtimestamp(start, z)
    out = []
    for _ in range(N):
        t = croniter(cexpr, cur).get_next(float)
        assert t == int(t)
        out.append(int(t))
        cur = datetime.datetime.fromtimestamp(t, z)
    return out


def hours_of(expr):
    """The hour set of an expression (croniter's expansion)."""
    exp = croniter(to_croniter(expr)).expanded
    return set(range(24)) if exp[1] == ["*"] else set(exp[1])


def to_croniter(expr):
    """Our syntax -> croniter's: only nL (last weekday) is spelled L<n> there."""
    f = expr.split()
    if len(f) == 5:
        items = []
        for it in f[4].split(","):
            if len(it) >= 2 and it[-1] in "lL" and it[:-1].isdigit():
                it = "L" + it[:-1]
            items.append(it)
        f[4] = ",".join(items)
    return " ".join(f)


class Unsafe(Exception):
    pass


def check_dst(expr, zone, start, fires):
    """Raise Unsafe if croniter is not trusted for this span (see above)."""
    touched = touched_hours(zone, start, fires[-1])
    if not touched:
        return
    if fires[-1] > DST_LIMIT:
        raise Unsafe("after 2037 in a DST zone")
    hours = hours_of(expr)
    if len(hours) == 24:
        if 23 in touched or 0 in touched:
            raise Unsafe("transition at midnight")
        return
    if hours & touched:
        raise Unsafe("restricted hours %s touch DST hours %s" % (sorted(hours & touched), sorted(touched)))
    zi = ZoneInfo(zone)
    prev = start
    for t in fires:
        if offset(zi, prev) != offset(zi, t):
            if datetime.datetime.fromtimestamp(prev, zi).date() >= datetime.datetime.fromtimestamp(t, zi).date():
                raise Unsafe("fires %d and %d around a transition are on the same day" % (prev, t))
        prev = t


def encode(start, fires):
    deltas = []
    prev = start
    for t in fires:
        d = t - prev
        assert d > 0 and d % 60 == 0, (prev, t)
        deltas.append(d // 60)
        prev = t
    out = []
    i = 0
    while i < len(deltas):
        j = i
        while j < len(deltas) and deltas[j] == deltas[i]:
            j += 1
        out.append(str(deltas[i]) if j - i == 1 else "%d*%d" % (deltas[i], j - i))
        i = j
    return ",".join(out)


def ts(zone, s):
    """Unix time of local time s ("2024-03-01 00:00") in zone."""
    z = pytz.timezone(zone)
    return int(z.localize(datetime.datetime.fromisoformat(s)).timestamp())

# --- hand-written cases ------------------------------------------------------
# (expr, zone, local start). Every syntax croniter shares with us, with the
# DST changes where croniter is trusted.

HAND = [
    ("* * * * *", "UTC", "2024-02-28 23:00"),
    ("*/5 * * * *", "UTC", "2024-12-31 20:00"),
    ("10-50/10 * * * *", "UTC", "2023-06-01 00:00"),
    ("10/15 * * * *", "Asia/Kolkata", "2024-01-01 00:00"),
    ("0,15,30,45 * * * *", "Pacific/Chatham", "2024-09-28 00:00"),
    ("5 */3 * * *", "UTC", "2024-01-01 00:00"),
    ("0 9-17 * * MON-FRI", "Europe/Berlin", "2024-01-01 00:00"),
    ("0 9 * * mon-fri", "America/New_York", "2024-03-01 00:00"),
    ("30 9 * * Mon,Wed,Fri", "Australia/Sydney", "2024-01-01 00:00"),
    ("0 0 1,15 * MON", "UTC", "2024-01-01 00:00"),
    ("0 12 13 * FRI", "Europe/Berlin", "2020-01-01 00:00"),
    ("0 0 * * 0", "UTC", "2024-01-01 00:00"),
    ("0 0 * * 7", "UTC", "2024-01-01 00:00"),
    ("0 0 * * 5-7", "America/New_York", "2024-01-01 00:00"),
    ("0 0 * * FRI-SUN", "America/New_York", "2024-01-01 00:00"),
    ("0 18 * * SAT,SUN", "Asia/Kolkata", "2024-01-01 00:00"),
    ("0 6 * * 1/2", "UTC", "2024-01-01 00:00"),
    ("0 6 * * */2", "UTC", "2024-01-01 00:00"),
    ("0 6 * * */7", "UTC", "2024-01-01 00:00"),
    ("@hourly", "America/New_York", "2024-10-20 00:00"),
    ("@hourly", "Europe/Berlin", "2024-03-20 00:00"),
    ("@hourly", "Pacific/Chatham", "2024-03-25 00:00"),
    ("@daily", "Australia/Sydney", "2024-01-01 00:00"),
    ("@midnight", "America/New_York", "2024-01-01 00:00"),
    ("@weekly", "Europe/Berlin", "2010-01-01 00:00"),
    ("@monthly", "Asia/Kolkata", "1970-01-01 00:00"),
    ("@yearly", "UTC", "1970-01-01 00:00"),
    ("@annually", "Asia/Kolkata", "1980-01-01 00:00"),
    ("0 0 L * *", "UTC", "2024-01-01 00:00"),
    ("0 12 1,L * *", "Europe/Berlin", "1995-01-01 00:00"),
    ("0 0 L 2 *", "Asia/Kolkata", "1990-01-01 00:00"),
    ("0 0 29 2 *", "UTC", "2000-01-01 00:00"),
    ("0 0 29 2 *", "Asia/Kolkata", "2090-01-01 00:00"),
    ("0 0 31 * *", "UTC", "2024-01-01 00:00"),
    ("0 12 * * FRI#2", "UTC", "2024-01-01 00:00"),
    ("0 12 * * 1#1,5#5", "UTC", "2024-01-01 00:00"),
    ("0 12 * * 0#5", "Asia/Kolkata", "2020-01-01 00:00"),
    ("0 12 * * 5L", "Asia/Kolkata", "2020-01-01 00:00"),
    ("0 22 * * 0L,3L", "UTC", "2020-01-01 00:00"),
    ("0 0 * JAN-MAR,SEP *", "UTC", "2024-01-01 00:00"),
    ("0 0 1 */3 *", "UTC", "2000-01-01 00:00"),
    ("0 0 1 2/3 *", "UTC", "2000-01-01 00:00"),
    ("0 4 8-14 * *", "America/New_York", "2024-01-01 00:00"),
    ("0 0,12 1 */2 *", "UTC", "2024-01-01 00:00"),
    ("23 0-20/2 * * *", "Asia/Kolkata", "2024-01-01 00:00"),
    ("5 4 * * sun", "Europe/Berlin", "2000-01-01 00:00"),
    ("15 14 1 * *", "Asia/Kolkata", "2024-01-01 00:00"),
    ("0 22 * * 1-5", "Australia/Sydney", "2024-01-01 00:00"),
    ("30 * * * *", "America/New_York", "2024-02-20 00:00"),
    ("30 * * * *", "America/New_York", "2024-10-15 00:00"),
    ("*/20 * * * *", "Europe/Berlin", "2024-10-20 00:00"),
    ("*/7 * * * *", "Australia/Sydney", "2024-04-04 00:00"),
    ("*/7 * * * *", "Australia/Sydney", "2024-10-04 00:00"),
    ("0 * * * *", "Pacific/Chatham", "2024-09-01 00:00"),
    ("0 * * * *", "Pacific/Chatham", "2024-03-20 00:00"),
    ("45 * * * *", "Pacific/Chatham", "2024-03-20 00:00"),
    ("30 1 * * *", "UTC", "2024-01-01 00:00"),
    ("0 0 * * *", "Europe/Berlin", "2024-01-01 00:00"),
    ("0 12 * * *", "America/New_York", "2024-01-01 00:00"),
    ("0 3 * * *", "America/New_York", "2024-01-01 00:00"),
    ("0 3 * * *", "Europe/Berlin", "2024-01-01 00:00"),
    ("0 1 * * *", "Australia/Sydney", "2024-01-01 00:00"),
    ("0 12 * * *", "America/Sao_Paulo", "2016-01-01 00:00"),
    ("0 6,18 * * *", "America/Sao_Paulo", "2018-06-01 00:00"),
    ("*/10 * * * *", "America/Sao_Paulo", "2019-03-01 00:00"),
    ("0 0 * * *", "America/Sao_Paulo", "2019-06-01 00:00"),
    ("0 5 * * *", "Pacific/Chatham", "2024-01-01 00:00"),
    ("0 0 29 2 *", "UTC", "2096-01-01 00:00"),
]

# --- generated cases ---------------------------------------------------------

MON = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
DOW = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]


def gen_plain(rng, lo, hi, names=None, allow_star=True):
    """A field without the day extensions; names for month/day-of-week."""
    def val(v):
        if names and rng.random() < 0.4:
            n = names[v - lo] if v <= hi else names[0]
            return rng.choice([n, n.lower(), n.capitalize()])
        return str(v)

    def item():
        k = rng.random()
        if k < 0.35:
            return val(rng.randint(lo, hi))
        if k < 0.6:
            a = rng.randint(lo, hi - 1)
            b = rng.randint(a + 1, hi)
            return "%s-%s" % (val(a), val(b))
        if k < 0.75:
            a = rng.randint(lo, hi - 1)
            b = rng.randint(a + 1, hi)
            return "%d-%d/%d" % (a, b, rng.randint(1, max(1, (b - a))))
        if k < 0.85:
            return "%d/%d" % (rng.randint(lo, hi), rng.randint(1, max(1, (hi - lo) // 2)))
        return val(rng.randint(lo, hi))

    k = rng.random()
    if allow_star and k < 0.25:
        return "*"
    if allow_star and k < 0.4:
        return "*/%d" % rng.randint(2, max(2, (hi - lo + 1) // 2))
    n = 1 if rng.random() < 0.5 else rng.randint(2, 3)
    return ",".join(item() for _ in range(n))


def expand(field, i):
    """croniter's value set for field i (None when it is '*')."""
    f = ["*"] * 5
    f[i] = field
    e = croniter(" ".join(f)).expanded[i]
    return None if e == ["*"] else e


def gen_expr(rng):
    minute = gen_plain(rng, 0, 59)
    if rng.random() < 0.3:
        hour = "*"
    else:
        hour = gen_plain(rng, 0, 23)
    month = gen_plain(rng, 1, 12, MON) if rng.random() < 0.5 else "*"
    k = rng.random()
    if k < 0.35:
        dom, dow = "*", "*"
    elif k < 0.55:
        dom, dow = gen_plain(rng, 1, 31), "*"
        if rng.random() < 0.2:
            dom = rng.choice(["L", "1,L", "L,15", "10-20,L"])
    elif k < 0.8:
        dom = "*"
        r = rng.random()
        if r < 0.3:
            dow = ",".join("%s#%d" % (rng.choice([str(rng.randint(0, 7)), rng.choice(DOW)]),
                                      rng.randint(1, 5)) for _ in range(rng.randint(1, 2)))
        elif r < 0.5:
            dow = ",".join("%dL" % rng.randint(0, 7) for _ in range(rng.randint(1, 2)))
        else:
            dow = gen_plain(rng, 0, 6, DOW)
    else:  # both restricted: the OR rule, neither starting with '*'
        dom = gen_plain(rng, 1, 31, allow_star=False)
        dow = gen_plain(rng, 0, 6, DOW, allow_star=False)
        if rng.random() < 0.2:
            dom = rng.choice(["L", "1,L"])
    expr = " ".join([minute, hour, dom, month, dow])
    # keep croniter's departures out (see the top of this file)
    try:
        d1, d2 = expand(dom, 2), expand(to_croniter("* * * * " + dow).split()[4], 4)
    except Exception:
        return None
    if dom != "*" and dow != "*":
        if dom.startswith("*") or dow.startswith("*") or d1 is None or d2 is None:
            return None
        if "#" in dow or "L" in dow:
            return None
    if d1 is None and dom != "*" and dow != "*":
        return None
    nums = [d for d in (d1 or []) if d != "l"]
    if nums and max(nums) - min(nums) >= 28:  # croniter's jump past the 1st
        return None
    # a day of month that never occurs in the months (we reject it at parse time)
    months = expand(month, 3) or list(range(1, 13))
    days = d1 or ["*"]
    if dow == "*" and days != ["*"] and "l" not in days:
        dim = {1: 31, 2: 29, 3: 31, 4: 30, 5: 31, 6: 30, 7: 31, 8: 31, 9: 30, 10: 31, 11: 30, 12: 31}
        if not any(d <= dim[m] for d in days for m in months):
            return None
    return expr


def generated(rng, count):
    out = []
    tries = 0
    while len(out) < count:
        tries += 1
        expr = gen_expr(rng)
        if not expr:
            continue
        zone = rng.choice(ZONES)
        # start: random, or just before a transition in the zone (2000-2036)
        trs = [t for t, _, _ in TRANS[zone] if 946684800 <= t < DST_LIMIT - 86400 * 400]
        if trs and rng.random() < 0.7:
            at = rng.choice(trs)
            # how long do 1000 fires take? (UTC, no DST: just for the span)
            try:
                it = croniter(to_croniter(expr), datetime.datetime.utcfromtimestamp(at))
                span = it.get_next(float)
                for _ in range(N - 1):
                    span = it.get_next(float)
                span -= at
            except Exception:
                continue
            start = at - int(rng.random() * 0.9 * span)
        else:
            start = rng.randint(946684800, 2082758400 if zone in ("UTC", "Asia/Kolkata") else 2019686400)
        start -= start % 60
        out.append((expr, zone, start))
    return out


def main():
    rng = random.Random(20240601)
    try:
        with open("/usr/share/zoneinfo/tzdata.zi") as f:
            tzv = f.readline().split()[-1]
    except OSError:
        tzv = "?"
    print("# wfdsl cron fixtures, made by croniter 1.3.5 (python3-croniter, Debian 12) with pytz, "
          "and zoneinfo over tzdata %s; see tests/cron/gen.py for what is compared and what is not." % tzv)
    print("# regenerate: /usr/bin/python3 tests/cron/gen.py > tests/cron/fixtures.txt")
    print("# C <expr> <zone> <start> <deltas: minutes, N*K = K times N>   Z <zone> <t:offset,...>")
    for z in ZONES:
        print("Z\t%s\t%s" % (z, ",".join("%d:%d" % (at, after) for at, _, after in TRANS[z])))
    cases = [(e, z, ts(z, s)) for e, z, s in HAND]
    hand = len(cases)
    kept = 0
    bad = []
    for i, (expr, zone, start) in enumerate(cases):
        fires = croniter_fires(to_croniter(expr), zone, start)
        try:  # hand-written cases must be safe
            check_dst(expr, zone, start, fires)
        except Unsafe as ex:
            bad.append("gen.py: hand-written case %r %s: %s" % (expr, zone, ex))
        print("C\t%s\t%s\t%d\t%s" % (expr, zone, start, encode(start, fires)))
        kept += 1
    if bad:
        sys.exit("\n".join(bad))
    skipped = 0
    for expr, zone, start in generated(rng, 400):
        if kept >= hand + 190:
            break
        try:
            fires = croniter_fires(to_croniter(expr), zone, start)
            check_dst(expr, zone, start, fires)
        except Unsafe:
            skipped += 1
            continue
        except Exception as ex:  # croniter gives up (no fire within 50 years)
            print("# skipped %r: %s" % (expr, ex), file=sys.stderr)
            skipped += 1
            continue
        print("C\t%s\t%s\t%d\t%s" % (expr, zone, start, encode(start, fires)))
        kept += 1
    print("# %d cases (%d hand-written), %d generated ones skipped as unsafe for croniter"
          % (kept, hand, skipped))


if __name__ == "__main__":
    main()
