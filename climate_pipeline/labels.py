"""Titles from CF metadata: what a field is and which model made it, in words.

The title is the variable's ``long_name``, else its ``standard_name`` made readable, else its
name; a name spelled as an identifier (``VOLCANIC_ASH_AIR_CONCENTRATION``, NAME's field
names, GRIB short names are left alone) is made readable too. The source is the global
``source``/``model`` attribute, NAME's version and run title, or WRF's title. Pure functions
of strings.
"""

from __future__ import annotations

import re

__all__ = ["readable", "quantity_title", "source_of", "title"]

#: chemical and aerosol names written as chemists do
_CHEM = {"pm10": "PM10", "pm2p5": "PM2.5", "pm25": "PM2.5", "pm2.5": "PM2.5", "no2": "NO2",
         "no": "NO", "o3": "O3", "so2": "SO2", "co": "CO", "nh3": "NH3", "ch4": "CH4",
         "co2": "CO2", "hcho": "HCHO", "nox": "NOx", "aod": "AOD", "voc": "VOC"}


def _is_identifier(text: str) -> bool:
    """A name written for a program: no spaces, and underscores or all capitals."""
    return bool(text) and " " not in text and (
        "_" in text or (text.isupper() and text.isalnum() and len(text) > 4))  # not "PM2.5"


def readable(text: str) -> str:
    """``mass_concentration_of_pm10_ambient_aerosol_particles_in_air`` -> ``Mass
    concentration of PM10 ambient aerosol particles in air``; text with spaces is kept."""
    t = (text or "").strip()
    if not _is_identifier(t):
        return t
    words = [_CHEM.get(w.lower(), w.lower()) for w in re.split(r"[_\s]+", t) if w]
    if words and words[0].islower():
        words[0] = words[0][0].upper() + words[0][1:]
    return " ".join(words)


def _averaging(attrs: dict) -> str:
    """NAME's ``Time Av or Int`` (``006 hr time averaged``) as ``6-h mean``."""
    t = str(attrs.get("Time Av or Int", "")).strip()
    m = re.match(r"0*(\d+)\s*hr?\s+time\s+(averaged|integrated)", t, re.I)
    if not m:
        return ""
    return f"{int(m.group(1))}-h {'mean' if m.group(2).lower() == 'averaged' else 'integral'}"


def quantity_title(name: str, long_name: str = "", standard_name: str = "",
                   attrs: dict | None = None) -> str:
    """What the field is: long_name, standard_name or name, readable, with NAME's time
    averaging (``Volcanic ash air concentration, 6-h mean``)."""
    a = attrs or {}
    text = readable(long_name) or readable(standard_name) or readable(name) or name
    avg = _averaging(a)
    return f"{text}, {avg}" if avg and avg not in text else text


def source_of(attrs: dict | None) -> str:
    """The model or source named by the file's global attributes ('' when none)."""
    a = attrs or {}
    if a.get("NAME Version"):
        version = re.sub(r"\s*\(version\s*([^)]*)\)", r" \1", str(a["NAME Version"])).strip()
        run = str(a.get("Title", "")).split("_")[0].strip()
        return f"{version}, {run.capitalize()}" if run else version
    for key in ("source", "model", "model_name", "source_id", "TITLE", "title"):
        v = " ".join(str(a.get(key, "")).split())
        if v:
            v = re.sub(r"^OUTPUT FROM\s+", "", v, flags=re.I)
            return v if len(v) <= 48 else v[:47].rstrip() + "…"
    return ""


def title(name: str, long_name: str = "", standard_name: str = "",
          attrs: dict | None = None) -> str:
    """``Quantity — source`` (the source only when the file names one)."""
    q = quantity_title(name, long_name, standard_name, attrs)
    src = source_of(attrs)
    return f"{q} — {src}" if src and src.lower() not in q.lower() else q
