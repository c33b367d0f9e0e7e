"""Go time layouts: timestamps parsed exactly as Go's time.Parse parses them
(shared/validate checks them, serving encodes them with Go)."""

# An empty contract format means RFC 3339; Go's validator and encoder use the
# RFC3339Nano layout for it (the fraction optional, any number of digits).
RFC3339 = "2006-01-02T15:04:05.999999999Z07:00"

_LONG_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
                "October", "November", "December")
_SHORT_MONTHS = tuple(m[:3] for m in _LONG_MONTHS)
_LONG_DAYS = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
_SHORT_DAYS = tuple(d[:3] for d in _LONG_DAYS)

# Zone layouts, longest first as Go matches them: (text, kind, "Z" means UTC allowed).
_ZONES = (("070000", "hhmmss"), ("07:00:00", "hh:mm:ss"), ("0700", "hhmm"), ("07:00", "hh:mm"), ("07", "hh"))

# Layout elements the reference trainer does not parse: zone abbreviations need
# Go's zone database, and day-of-year needs cross-checks nobody has asked for.
_UNSUPPORTED = {"MST": "zone abbreviations (MST)", "yday": "day of year (002, __2)"}


def _starts_lower(s):
    return bool(s) and "a" <= s[0] <= "z"


def _next_chunk(layout):
    """Go's time.nextStdChunk: (literal prefix, element or None, rest).

    Elements are tuples (kind, arg). Ported from Go 1.2x src/time/format.go so
    that a layout splits where Go splits it (e.g. "Jan" in "Janet" is text)."""
    n = len(layout)
    for i, c in enumerate(layout):
        rest = layout[i:]
        if c == "J" and rest.startswith("Jan"):
            if rest.startswith("January"):
                return layout[:i], ("month", "long"), layout[i + 7:]
            if not _starts_lower(layout[i + 3:]):
                return layout[:i], ("month", "short"), layout[i + 3:]
        elif c == "M":
            if rest.startswith("Mon"):
                if rest.startswith("Monday"):
                    return layout[:i], ("weekday", "long"), layout[i + 6:]
                if not _starts_lower(layout[i + 3:]):
                    return layout[:i], ("weekday", "short"), layout[i + 3:]
            if rest.startswith("MST"):
                return layout[:i], ("MST", None), layout[i + 3:]
        elif c == "0":
            if i + 1 < n and "1" <= layout[i + 1] <= "6":
                kind = ("month", "day", "hour12", "minute", "second", "year2")[int(layout[i + 1]) - 1]
                return layout[:i], (kind, "fixed"), layout[i + 2:]
            if rest.startswith("002"):
                return layout[:i], ("yday", None), layout[i + 3:]
        elif c == "1":
            if i + 1 < n and layout[i + 1] == "5":
                return layout[:i], ("hour", None), layout[i + 2:]
            return layout[:i], ("month", None), layout[i + 1:]
        elif c == "2":
            if rest.startswith("2006"):
                return layout[:i], ("year", None), layout[i + 4:]
            return layout[:i], ("day", None), layout[i + 1:]
        elif c == "_":
            if i + 1 < n and layout[i + 1] == "2":
                if layout.startswith("2006", i + 1):  # "_2006" is "_" then the year
                    return layout[:i + 1], ("year", None), layout[i + 5:]
                return layout[:i], ("day", "under"), layout[i + 2:]
            if rest.startswith("__2"):
                return layout[:i], ("yday", None), layout[i + 3:]
        elif c in "345":
            kind = {"3": "hour12", "4": "minute", "5": "second"}[c]
            return layout[:i], (kind, None), layout[i + 1:]
        elif c == "P" and rest.startswith("PM"):
            return layout[:i], ("ampm", "PM"), layout[i + 2:]
        elif c == "p" and rest.startswith("pm"):
            return layout[:i], ("ampm", "pm"), layout[i + 2:]
        elif c in "-Z":
            for text, kind in _ZONES:
                if layout.startswith(text, i + 1):
                    return layout[:i], ("zone", (kind, c == "Z")), layout[i + 1 + len(text):]
        elif c in ".," and i + 1 < n and layout[i + 1] in "09":
            ch, j = layout[i + 1], i + 1
            while j < n and layout[j] == ch:
                j += 1
            if not (j < n and "0" <= layout[j] <= "9"):  # a run of one digit only
                return layout[:i], ("frac", (ch, j - i - 1)), layout[j:]
    return layout, None, ""


def _getnum(s, fixed):
    """Go's getnum: one or two ASCII digits (exactly two when fixed)."""
    if not s or not "0" <= s[0] <= "9":
        raise ValueError
    if len(s) < 2 or not "0" <= s[1] <= "9":
        if fixed:
            raise ValueError
        return int(s[0]), s[1:]
    return int(s[:2]), s[2:]


def _skip(value, prefix):
    """Go's skip: the layout's literal text; a space matches one or more spaces."""
    while prefix:
        if prefix[0] == " ":
            if value and value[0] != " ":
                raise ValueError
            prefix, value = prefix.lstrip(" "), value.lstrip(" ")
            continue
        if not value or value[0] != prefix[0]:
            raise ValueError
        prefix, value = prefix[1:], value[1:]
    return value


def _lookup(names, value):
    for k, name in enumerate(names):
        if len(value) >= len(name) and value[:len(name)].lower() == name.lower():
            return k, value[len(name):]
    raise ValueError


def _nanos(value, nbytes):
    """Go's parseNanoseconds: value[0] is '.' or ','; at most nine digits count."""
    if value[0] not in ".,":
        raise ValueError
    digits = value[1:min(nbytes, 10)]
    if not digits or not all("0" <= d <= "9" for d in digits):
        raise ValueError
    return int(digits) * 10 ** (9 - len(digits))


def _days_from_civil(y, m, d):
    """Days since 1970-01-01 of a proleptic Gregorian date (any year)."""
    y -= m <= 2
    era = (y if y >= 0 else y - 399) // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def _days_in(month, year):
    if month == 2:
        leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
        return 29 if leap else 28
    return 30 if month in (4, 6, 9, 11) else 31


class GoLayout:
    """A Go time layout (reference time Mon Jan 2 15:04:05 MST 2006), parsed as
    Go's time.Parse parses it: same elements, same one-or-two-digit rules, the
    fractional second Go accepts after the seconds even when the layout has
    none, UTC when the layout has no zone. Supported: every element except zone
    abbreviations (MST) and day of year (002, __2)."""

    def __init__(self, layout):
        self.layout = layout or RFC3339
        self.chunks = []
        rest = self.layout
        while True:
            prefix, elem, rest = _next_chunk(rest)
            self.chunks.append((prefix, elem))
            if elem is None:
                break
            if elem[0] in _UNSUPPORTED:
                raise ValueError(f"the layout {self.layout!r} uses {_UNSUPPORTED[elem[0]]}, which the "
                                 "reference trainer does not parse")

    def unix(self, value):
        """Unix seconds as Go computes them for the encoder:
        float64(t.Unix()) + float64(t.Nanosecond())/1e9."""
        sec, nsec = self.parse(value)
        return float(sec) + float(nsec) / 1e9

    def parse(self, value):
        """(Unix seconds, nanoseconds); ValueError when Go's time.Parse fails."""
        year, month, day = 0, 1, 1
        hour = minute = second = nsec = 0
        offset = 0
        pm = am = False
        chunks = self.chunks
        for k, (prefix, elem) in enumerate(chunks):
            value = _skip(value, prefix)
            if elem is None:
                if value:
                    raise ValueError  # extra text
                break
            kind, arg = elem
            if kind == "year":
                if len(value) < 4 or not all("0" <= d <= "9" for d in value[:4]):
                    raise ValueError
                year, value = int(value[:4]), value[4:]
            elif kind == "year2":
                if len(value) < 2 or not all("0" <= d <= "9" for d in value[:2]):
                    raise ValueError
                year, value = int(value[:2]), value[2:]
                year += 1900 if year >= 69 else 2000
            elif kind == "month":
                if arg == "long":
                    month, value = _lookup(_LONG_MONTHS, value)
                    month += 1
                elif arg == "short":
                    month, value = _lookup(_SHORT_MONTHS, value)
                    month += 1
                else:
                    month, value = _getnum(value, arg == "fixed")
                    if not 1 <= month <= 12:
                        raise ValueError
            elif kind == "weekday":  # read and ignored, as Go does
                _, value = _lookup(_LONG_DAYS if arg == "long" else _SHORT_DAYS, value)
            elif kind == "day":
                if arg == "under" and value[:1] == " ":
                    value = value[1:]
                day, value = _getnum(value, arg == "fixed")
            elif kind == "hour":
                hour, value = _getnum(value, False)
                if hour >= 24:
                    raise ValueError
            elif kind == "hour12":
                hour, value = _getnum(value, arg == "fixed")
                if hour > 12:
                    raise ValueError
            elif kind == "minute":
                minute, value = _getnum(value, arg == "fixed")
                if minute >= 60:
                    raise ValueError
            elif kind == "second":
                second, value = _getnum(value, arg == "fixed")
                if second >= 60:
                    raise ValueError
                # Go reads a fractional second here even if the layout has none,
                # unless the layout's next element is the fraction itself.
                if len(value) >= 2 and value[0] in ".," and "0" <= value[1] <= "9":
                    nxt = next((e for _, e in chunks[k + 1:] if e is not None), None)
                    if nxt is None or nxt[0] != "frac":
                        n = 2
                        while n < len(value) and "0" <= value[n] <= "9":
                            n += 1
                        nsec, value = _nanos(value, n), value[n:]
            elif kind == "frac":
                ch, ndigits = arg
                if ch == "0":  # exactly that many digits
                    if len(value) < 1 + ndigits:
                        raise ValueError
                    nsec, value = _nanos(value, 1 + ndigits), value[1 + ndigits:]
                elif len(value) >= 2 and value[0] in ".," and "0" <= value[1] <= "9":
                    n = 1
                    while n < len(value) and "0" <= value[n] <= "9":
                        n += 1
                    nsec, value = _nanos(value, n), value[n:]
            elif kind == "ampm":
                word, value = value[:2], value[2:]
                if word == ("PM" if arg == "PM" else "pm"):
                    pm = True
                elif word == ("AM" if arg == "PM" else "am"):
                    am = True
                else:
                    raise ValueError
            elif kind == "zone":
                form, z_ok = arg
                if z_ok and value[:1] == "Z":
                    offset, value = 0, value[1:]
                    continue
                if form == "hh:mm":
                    if len(value) < 6 or value[3] != ":":
                        raise ValueError
                    sign, hh, mm, ss, value = value[0], value[1:3], value[4:6], "00", value[6:]
                elif form == "hh":
                    if len(value) < 3:
                        raise ValueError
                    sign, hh, mm, ss, value = value[0], value[1:3], "00", "00", value[3:]
                elif form == "hh:mm:ss":
                    if len(value) < 9 or value[3] != ":" or value[6] != ":":
                        raise ValueError
                    sign, hh, mm, ss, value = value[0], value[1:3], value[4:6], value[7:9], value[9:]
                elif form == "hhmmss":
                    if len(value) < 7:
                        raise ValueError
                    sign, hh, mm, ss, value = value[0], value[1:3], value[3:5], value[5:7], value[7:]
                else:  # hhmm
                    if len(value) < 5:
                        raise ValueError
                    sign, hh, mm, ss, value = value[0], value[1:3], value[3:5], "00", value[5:]
                h, _ = _getnum(hh, True)
                m, _ = _getnum(mm, True)
                s, _ = _getnum(ss, True)
                # Go compares with > rather than >=: offsets of 24h or 60m happen.
                if h > 24 or m > 60 or s > 60 or sign not in "+-":
                    raise ValueError
                offset = (h * 60 + m) * 60 + s
                if sign == "-":
                    offset = -offset
        if pm and hour < 12:
            hour += 12
        elif am and hour == 12:
            hour = 0
        if day < 1 or day > _days_in(month, year):
            raise ValueError
        days = _days_from_civil(year, month, day)
        return days * 86400 + hour * 3600 + minute * 60 + second - offset, nsec
