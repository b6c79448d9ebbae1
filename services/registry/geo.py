"""Geometry helpers: reading GeoJSON geometries with reasons for what is wrong, points
inside polygons, and areas in square metres.

Coordinates are WGS84 degrees (GeoJSON's (lon, lat) order). Areas are computed in a local
equirectangular projection around the geometry's centre, good to a fraction of a percent
over a district — enough to say how much land no grid covers.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import shapely
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

METRES_PER_DEGREE_LAT = 110_574.0
METRES_PER_DEGREE_LON_AT_EQUATOR = 111_320.0
POLYGONAL = ("Polygon", "MultiPolygon")


class GeometryError(ValueError):
    """A GeoJSON geometry that cannot be used; the message says why."""


def read_geometry(obj: Any, *, allowed: tuple[str, ...]) -> BaseGeometry:
    """A shapely geometry from a GeoJSON geometry object, checked: one of `allowed`
    types, coordinates in range, non-empty, and valid (no self-intersections)."""
    if not isinstance(obj, dict):
        raise GeometryError("is missing or not a GeoJSON geometry object")
    kind = obj.get("type")
    if kind not in allowed:
        raise GeometryError(f"must be a {' or '.join(allowed)}, not {kind!r}")
    try:
        geom = shape(obj)
    except Exception as exc:  # shapely raises several kinds for malformed coordinates
        raise GeometryError(f"has malformed coordinates ({exc})") from None
    if geom.is_empty:
        raise GeometryError("is empty")
    minx, miny, maxx, maxy = geom.bounds
    if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
        raise GeometryError("has coordinates outside longitude -180..180, latitude -90..90")
    if not all(math.isfinite(v) for v in geom.bounds):
        raise GeometryError("has coordinates that are not numbers")
    if not geom.is_valid:
        raise GeometryError(f"is not valid: {shapely.is_valid_reason(geom)}")
    return geom


def dumps(geom: BaseGeometry) -> str:
    """Compact GeoJSON of a geometry, coordinates to 7 decimals (about 1 cm)."""
    return json.dumps(
        json.loads(shapely.to_geojson(shapely.set_precision(geom, 1e-7))), separators=(",", ":")
    )


def inside_point(geom: BaseGeometry) -> tuple[float, float]:
    """A (lat, lon) inside `geom`: its centroid when that is inside, else a point that is."""
    p = geom.centroid
    if not geom.covers(p):
        p = geom.representative_point()
    return round(p.y, 6), round(p.x, 6)


def to_metres(geom: BaseGeometry, *, origin: tuple[float, float] | None = None) -> BaseGeometry:
    """`geom` in metres east and north of `origin` (lat, lon; default its centre)."""
    if origin is None:
        minx, miny, maxx, maxy = geom.bounds
        origin = ((miny + maxy) / 2, (minx + maxx) / 2)
    lat0, lon0 = origin
    kx = METRES_PER_DEGREE_LON_AT_EQUATOR * math.cos(math.radians(lat0))

    def project(coords: np.ndarray) -> np.ndarray:
        out = np.empty_like(coords)
        out[:, 0] = (coords[:, 0] - lon0) * kx
        out[:, 1] = (coords[:, 1] - lat0) * METRES_PER_DEGREE_LAT
        return out

    return shapely.transform(geom, project)


def area_m2(geom: BaseGeometry, *, origin: tuple[float, float] | None = None) -> float:
    if geom.is_empty:
        return 0.0
    return float(to_metres(geom, origin=origin).area)


def polygons(geom: BaseGeometry) -> list[BaseGeometry]:
    """The polygons of a geometry (a collection is flattened; lines and points dropped)."""
    if geom.is_empty:
        return []
    if geom.geom_type == "Polygon":
        return [geom]
    if hasattr(geom, "geoms"):
        return [p for g in geom.geoms for p in polygons(g)]
    return []
