//! GEOMETRY values: Well-Known Text in and out, Well-Known Binary stored (docs/format.md, "GEOMETRY"), and the
//! spatial relations Milvus's `ST_*` filters test. No I/O.
//!
//! Stored WKB is ISO WKB, little-endian, two-dimensional: a byte 1, a u32 type (1 POINT, 2 LINESTRING,
//! 3 POLYGON, 4 MULTIPOINT, 5 MULTILINESTRING, 6 MULTIPOLYGON, 7 GEOMETRYCOLLECTION) and its body; an empty
//! POINT is a point of two NaN coordinates (the usual WKB convention). `decode` reads only that, checks every
//! count against the bytes left before it allocates, and refuses nesting deeper than `MAX_DEPTH`: stored bytes
//! are not trusted.
//!
//! Relations follow the DE-9IM definitions (as GEOS, which the Milvus server calls): a polygon does not
//! contain a point on its boundary, but intersects it.

use std::fmt::Write as _;
use std::str::FromStr;

use geo::{
    Coord, Distance, Euclidean, Geometry, GeometryCollection, LineString, MultiLineString,
    MultiPoint, MultiPolygon, Point, Polygon, Relate, Validation,
};

/// Nesting of GEOMETRYCOLLECTIONs (and parentheses in WKT) allowed in one value, so that hostile input
/// cannot overflow the stack of the parsers.
pub const MAX_DEPTH: usize = 16;

/// Parses WKT (any case, any spacing) into a geometry. Only two-dimensional geometries with finite
/// coordinates are accepted. The error says what is wrong, without the text (the caller names field and value).
pub fn parse_wkt(text: &str) -> Result<Geometry<f64>, String> {
    check_nesting(text)?;
    let wkt = wkt::Wkt::<f64>::from_str(text.trim()).map_err(|e| e.to_string())?;
    if wkt.dimension() != wkt::types::Dimension::XY {
        return Err("only two-dimensional geometries (x y) are supported".into());
    }
    let g = match wkt {
        wkt::Wkt::Point(p) if p.coord().is_none() => empty_point(),
        other => Geometry::try_from(other).map_err(|e| e.to_string())?,
    };
    if !finite(&g) {
        return Err("coordinates must be finite numbers".into());
    }
    Ok(g)
}

/// Parentheses must balance and nest at most `MAX_DEPTH` deep, and nothing but blanks may follow the
/// geometry (the WKT parser stops at its end and would ignore the rest).
fn check_nesting(text: &str) -> Result<(), String> {
    let mut depth = 0usize;
    let mut closed_at = None;
    for (i, c) in text.char_indices() {
        match c {
            '(' => {
                if closed_at.is_some() {
                    return Err("unexpected text after the geometry".into());
                }
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(format!("geometry nests deeper than {MAX_DEPTH} levels"));
                }
            }
            ')' => {
                depth = depth
                    .checked_sub(1)
                    .ok_or_else(|| "unbalanced parentheses".to_string())?;
                if depth == 0 {
                    closed_at = Some(i);
                }
            }
            c if closed_at.is_some() && !c.is_whitespace() => {
                return Err("unexpected text after the geometry".into())
            }
            _ => {}
        }
    }
    if depth != 0 {
        return Err("unbalanced parentheses".into());
    }
    if closed_at.is_none() && !text.trim_end().to_ascii_uppercase().ends_with("EMPTY") {
        return Err("expected a geometry such as POINT(x y) or POLYGON((x y, ...))".into());
    }
    Ok(())
}

fn empty_point() -> Geometry<f64> {
    Geometry::Point(Point::new(f64::NAN, f64::NAN))
}

fn is_empty_point(p: &Point<f64>) -> bool {
    p.x().is_nan() && p.y().is_nan()
}

/// Every coordinate finite (an empty point's NaNs aside).
fn finite(g: &Geometry<f64>) -> bool {
    let ok = |c: &Coord<f64>| c.x.is_finite() && c.y.is_finite();
    match g {
        Geometry::Point(p) => is_empty_point(p) || ok(&p.0),
        Geometry::GeometryCollection(gc) => gc.iter().all(finite),
        other => coords(other).all(|c| ok(&c)),
    }
}

/// The coordinates of a geometry that is not a collection.
fn coords(g: &Geometry<f64>) -> Box<dyn Iterator<Item = Coord<f64>> + '_> {
    use geo::CoordsIter;
    Box::new(g.coords_iter())
}

// ---------------------------------------------------------------------------------------------- WKB

const POINT: u32 = 1;
const LINESTRING: u32 = 2;
const POLYGON: u32 = 3;
const MULTIPOINT: u32 = 4;
const MULTILINESTRING: u32 = 5;
const MULTIPOLYGON: u32 = 6;
const COLLECTION: u32 = 7;

/// The WKB of `g` (ISO, little-endian, 2D).
pub fn encode(g: &Geometry<f64>) -> Vec<u8> {
    let mut out = Vec::new();
    put_geometry(g, &mut out);
    out
}

fn put_header(kind: u32, out: &mut Vec<u8>) {
    out.push(1);
    out.extend_from_slice(&kind.to_le_bytes());
}

fn put_count(n: usize, out: &mut Vec<u8>) {
    out.extend_from_slice(&(n as u32).to_le_bytes());
}

fn put_coord(c: Coord<f64>, out: &mut Vec<u8>) {
    out.extend_from_slice(&c.x.to_le_bytes());
    out.extend_from_slice(&c.y.to_le_bytes());
}

fn put_line(l: &LineString<f64>, out: &mut Vec<u8>) {
    put_count(l.0.len(), out);
    l.0.iter().for_each(|c| put_coord(*c, out));
}

fn put_polygon_body(p: &Polygon<f64>, out: &mut Vec<u8>) {
    if p.exterior().0.is_empty() && p.interiors().is_empty() {
        put_count(0, out);
        return;
    }
    put_count(1 + p.interiors().len(), out);
    put_line(p.exterior(), out);
    p.interiors().iter().for_each(|r| put_line(r, out));
}

fn put_geometry(g: &Geometry<f64>, out: &mut Vec<u8>) {
    match g {
        Geometry::Point(p) => {
            put_header(POINT, out);
            put_coord(p.0, out);
        }
        Geometry::Line(l) => {
            put_header(LINESTRING, out);
            put_line(&LineString::from(*l), out);
        }
        Geometry::LineString(l) => {
            put_header(LINESTRING, out);
            put_line(l, out);
        }
        Geometry::Polygon(p) => {
            put_header(POLYGON, out);
            put_polygon_body(p, out);
        }
        Geometry::Rect(r) => {
            put_header(POLYGON, out);
            put_polygon_body(&r.to_polygon(), out);
        }
        Geometry::Triangle(t) => {
            put_header(POLYGON, out);
            put_polygon_body(&t.to_polygon(), out);
        }
        Geometry::MultiPoint(m) => {
            put_header(MULTIPOINT, out);
            put_count(m.0.len(), out);
            m.0.iter()
                .for_each(|p| put_geometry(&Geometry::Point(*p), out));
        }
        Geometry::MultiLineString(m) => {
            put_header(MULTILINESTRING, out);
            put_count(m.0.len(), out);
            for l in &m.0 {
                put_header(LINESTRING, out);
                put_line(l, out);
            }
        }
        Geometry::MultiPolygon(m) => {
            put_header(MULTIPOLYGON, out);
            put_count(m.0.len(), out);
            for p in &m.0 {
                put_header(POLYGON, out);
                put_polygon_body(p, out);
            }
        }
        Geometry::GeometryCollection(gc) => {
            put_header(COLLECTION, out);
            put_count(gc.0.len(), out);
            gc.0.iter().for_each(|g| put_geometry(g, out));
        }
    }
}

/// Decodes the WKB `encode` writes; None for anything else (another byte order or type, a count larger than
/// the bytes left, nesting past `MAX_DEPTH`, trailing bytes).
pub fn decode(bytes: &[u8]) -> Option<Geometry<f64>> {
    let mut r = Reader { bytes, pos: 0 };
    let g = r.geometry(0)?;
    (r.pos == bytes.len()).then_some(g)
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        let s = self.bytes.get(self.pos..self.pos.checked_add(n)?)?;
        self.pos += n;
        Some(s)
    }

    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }

    fn f64(&mut self) -> Option<f64> {
        Some(f64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }

    /// A count of items of at least `min_size` bytes each, no more than the bytes left can hold.
    fn count(&mut self, min_size: usize) -> Option<usize> {
        let n = self.u32()? as usize;
        (n.checked_mul(min_size)? <= self.bytes.len() - self.pos).then_some(n)
    }

    fn coord(&mut self) -> Option<Coord<f64>> {
        Some(Coord {
            x: self.f64()?,
            y: self.f64()?,
        })
    }

    fn line(&mut self) -> Option<LineString<f64>> {
        let n = self.count(16)?;
        (0..n)
            .map(|_| self.coord())
            .collect::<Option<Vec<_>>>()
            .map(LineString::new)
    }

    fn polygon_body(&mut self) -> Option<Polygon<f64>> {
        let rings = self.count(4)?;
        if rings == 0 {
            return Some(Polygon::new(LineString::new(Vec::new()), Vec::new()));
        }
        let exterior = self.line()?;
        let interiors = (1..rings)
            .map(|_| self.line())
            .collect::<Option<Vec<_>>>()?;
        Some(Polygon::new(exterior, interiors))
    }

    /// A header naming `kind`, as the members of a MULTI* geometry carry.
    fn member(&mut self, kind: u32) -> Option<()> {
        (self.take(1)? == [1] && self.u32()? == kind).then_some(())
    }

    fn geometry(&mut self, depth: usize) -> Option<Geometry<f64>> {
        if depth > MAX_DEPTH || self.take(1)? != [1] {
            return None;
        }
        Some(match self.u32()? {
            POINT => Geometry::Point(Point(self.coord()?)),
            LINESTRING => Geometry::LineString(self.line()?),
            POLYGON => Geometry::Polygon(self.polygon_body()?),
            MULTIPOINT => {
                let n = self.count(21)?;
                let points = (0..n)
                    .map(|_| {
                        self.member(POINT)?;
                        self.coord().map(Point)
                    })
                    .collect::<Option<Vec<_>>>()?;
                Geometry::MultiPoint(MultiPoint(points))
            }
            MULTILINESTRING => {
                let n = self.count(9)?;
                let lines = (0..n)
                    .map(|_| {
                        self.member(LINESTRING)?;
                        self.line()
                    })
                    .collect::<Option<Vec<_>>>()?;
                Geometry::MultiLineString(MultiLineString(lines))
            }
            MULTIPOLYGON => {
                let n = self.count(9)?;
                let polygons = (0..n)
                    .map(|_| {
                        self.member(POLYGON)?;
                        self.polygon_body()
                    })
                    .collect::<Option<Vec<_>>>()?;
                Geometry::MultiPolygon(MultiPolygon(polygons))
            }
            COLLECTION => {
                let n = self.count(5)?;
                let members = (0..n)
                    .map(|_| self.geometry(depth + 1))
                    .collect::<Option<Vec<_>>>()?;
                Geometry::GeometryCollection(GeometryCollection(members))
            }
            _ => return None,
        })
    }
}

// ---------------------------------------------------------------------------------------------- WKT out

/// The WKT of `g`: upper-case type, no space before the parentheses, ", " between coordinates, numbers in
/// their shortest exact form (`POINT(1 1)`, `POLYGON((0 0, 10 0, 10 10, 0 0))`, `POINT EMPTY`).
pub fn to_wkt(g: &Geometry<f64>) -> String {
    let mut out = String::new();
    write_geometry(g, &mut out);
    out
}

fn write_coord(c: &Coord<f64>, out: &mut String) {
    let _ = write!(out, "{} {}", c.x, c.y);
}

/// `(x y, x y)`.
fn write_coords(cs: &[Coord<f64>], out: &mut String) {
    out.push('(');
    for (i, c) in cs.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        write_coord(c, out);
    }
    out.push(')');
}

fn write_rings(p: &Polygon<f64>, out: &mut String) {
    out.push('(');
    write_coords(&p.exterior().0, out);
    for r in p.interiors() {
        out.push_str(", ");
        write_coords(&r.0, out);
    }
    out.push(')');
}

fn polygon_is_empty(p: &Polygon<f64>) -> bool {
    p.exterior().0.is_empty() && p.interiors().is_empty()
}

/// Writes `NAME(items)` or `NAME EMPTY`.
fn write_list<T>(name: &str, items: &[T], out: &mut String, item: impl Fn(&T, &mut String)) {
    out.push_str(name);
    if items.is_empty() {
        out.push_str(" EMPTY");
        return;
    }
    out.push('(');
    for (i, x) in items.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        item(x, out);
    }
    out.push(')');
}

fn write_geometry(g: &Geometry<f64>, out: &mut String) {
    match g {
        Geometry::Point(p) if is_empty_point(p) => out.push_str("POINT EMPTY"),
        Geometry::Point(p) => {
            out.push_str("POINT(");
            write_coord(&p.0, out);
            out.push(')');
        }
        Geometry::Line(l) => write_geometry(&Geometry::LineString(LineString::from(*l)), out),
        Geometry::LineString(l) => write_list("LINESTRING", &l.0, out, write_coord),
        Geometry::Polygon(p) if polygon_is_empty(p) => out.push_str("POLYGON EMPTY"),
        Geometry::Polygon(p) => {
            out.push_str("POLYGON");
            write_rings(p, out);
        }
        Geometry::Rect(r) => write_geometry(&Geometry::Polygon(r.to_polygon()), out),
        Geometry::Triangle(t) => write_geometry(&Geometry::Polygon(t.to_polygon()), out),
        Geometry::MultiPoint(m) => write_list("MULTIPOINT", &m.0, out, |p, out| {
            write_coords(std::slice::from_ref(&p.0), out)
        }),
        Geometry::MultiLineString(m) => write_list("MULTILINESTRING", &m.0, out, |l, out| {
            write_coords(&l.0, out)
        }),
        Geometry::MultiPolygon(m) => write_list("MULTIPOLYGON", &m.0, out, write_rings),
        Geometry::GeometryCollection(gc) => {
            write_list("GEOMETRYCOLLECTION", &gc.0, out, write_geometry)
        }
    }
}

// ---------------------------------------------------------------------------------------------- relations

/// The two-geometry relations of Milvus's filters (`ST_EQUALS`, ...), in DE-9IM terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relation {
    Equals,
    Touches,
    Overlaps,
    Crosses,
    Contains,
    Intersects,
    Within,
}

impl Relation {
    /// The relation a filter function names (`st_contains`, any case), with its Milvus name.
    pub fn from_function(name: &str) -> Option<Relation> {
        Some(match name.to_ascii_uppercase().as_str() {
            "ST_EQUALS" => Relation::Equals,
            "ST_TOUCHES" => Relation::Touches,
            "ST_OVERLAPS" => Relation::Overlaps,
            "ST_CROSSES" => Relation::Crosses,
            "ST_CONTAINS" => Relation::Contains,
            "ST_INTERSECTS" => Relation::Intersects,
            "ST_WITHIN" => Relation::Within,
            _ => return None,
        })
    }
}

/// An empty point as the empty geometry it stands for (relations on NaN coordinates are meaningless).
fn for_relations(g: &Geometry<f64>) -> std::borrow::Cow<'_, Geometry<f64>> {
    match g {
        Geometry::Point(p) if is_empty_point(p) => {
            std::borrow::Cow::Owned(Geometry::MultiPoint(MultiPoint(Vec::new())))
        }
        _ => std::borrow::Cow::Borrowed(g),
    }
}

/// Whether `a` stands in `relation` to `b` (`ST_CONTAINS(a, b)`).
pub fn relate(a: &Geometry<f64>, b: &Geometry<f64>, relation: Relation) -> bool {
    let m = for_relations(a).relate(for_relations(b).as_ref());
    match relation {
        Relation::Equals => m.is_equal_topo(),
        Relation::Touches => m.is_touches(),
        Relation::Overlaps => m.is_overlaps(),
        Relation::Crosses => m.is_crosses(),
        Relation::Contains => m.is_contains(),
        Relation::Intersects => m.is_intersects(),
        Relation::Within => m.is_within(),
    }
}

/// `ST_ISVALID`: OGC validity (closed, non-self-intersecting rings, ...).
pub fn is_valid(g: &Geometry<f64>) -> bool {
    for_relations(g).is_valid()
}

/// Mean Earth radius the Milvus server's haversine uses, in meters.
const EARTH_RADIUS_M: f64 = 6_371_000.0;
/// Meters per degree of latitude in the server's degree-to-meter conversion.
const METERS_PER_DEGREE: f64 = 111_320.0;

/// `ST_DWITHIN(g, point, meters)` as the Milvus server computes it, coordinates being longitude and latitude
/// in degrees: point to point, the haversine distance; otherwise the planar distance in degrees converted to
/// meters at the query point's latitude.
pub fn dwithin_meters(g: &Geometry<f64>, point: Point<f64>, meters: f64) -> bool {
    let g = for_relations(g);
    let distance = match g.as_ref() {
        Geometry::Point(p) => haversine_m(*p, point),
        other => {
            let degrees = Euclidean.distance(other, &Geometry::Point(point));
            let lat = point.y().to_radians();
            degrees * METERS_PER_DEGREE * ((1.0 + lat.cos() * lat.cos()) / 2.0).sqrt()
        }
    };
    distance <= meters
}

fn haversine_m(a: Point<f64>, b: Point<f64>) -> f64 {
    let (lat1, lat2) = (a.y().to_radians(), b.y().to_radians());
    let dlat = lat2 - lat1;
    let dlon = (b.x() - a.x()).to_radians();
    let h = (dlat / 2.0).sin().powi(2) + lat1.cos() * lat2.cos() * (dlon / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_M * h.sqrt().atan2((1.0 - h).sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(text: &str) -> Geometry<f64> {
        parse_wkt(text).unwrap()
    }

    #[test]
    fn wkt_round_trips_through_wkb_in_canonical_form() {
        for (input, canonical) in [
            ("POINT(1 1)", "POINT(1 1)"),
            ("point ( 1.5   -2e3 )", "POINT(1.5 -2000)"),
            (
                "POLYGON((0 0, 10 0, 10 10, 0 10, 0 0))",
                "POLYGON((0 0, 10 0, 10 10, 0 10, 0 0))",
            ),
            (
                "POLYGON ((0 0,4 0,4 4,0 0),(1 1,2 1,2 2,1 1))",
                "POLYGON((0 0, 4 0, 4 4, 0 0), (1 1, 2 1, 2 2, 1 1))",
            ),
            (
                "LINESTRING (13.4 52.52, 13.41 52.51)",
                "LINESTRING(13.4 52.52, 13.41 52.51)",
            ),
            (
                "MULTIPOINT ((10 40), (40 30))",
                "MULTIPOINT((10 40), (40 30))",
            ),
            ("MULTIPOINT (10 40, 40 30)", "MULTIPOINT((10 40), (40 30))"),
            (
                "MULTILINESTRING ((10 10, 20 20), (40 40, 30 30))",
                "MULTILINESTRING((10 10, 20 20), (40 40, 30 30))",
            ),
            (
                "MULTIPOLYGON (((30 20, 45 40, 10 40, 30 20)), ((15 5, 40 10, 10 20, 15 5)))",
                "MULTIPOLYGON(((30 20, 45 40, 10 40, 30 20)), ((15 5, 40 10, 10 20, 15 5)))",
            ),
            (
                "GEOMETRYCOLLECTION (POINT (40 10), LINESTRING (10 10, 20 20))",
                "GEOMETRYCOLLECTION(POINT(40 10), LINESTRING(10 10, 20 20))",
            ),
            ("POINT EMPTY", "POINT EMPTY"),
            ("LINESTRING EMPTY", "LINESTRING EMPTY"),
            ("POLYGON EMPTY", "POLYGON EMPTY"),
            ("MULTIPOLYGON EMPTY", "MULTIPOLYGON EMPTY"),
            ("GEOMETRYCOLLECTION EMPTY", "GEOMETRYCOLLECTION EMPTY"),
        ] {
            let parsed = g(input);
            let wkb = encode(&parsed);
            let back = decode(&wkb).unwrap_or_else(|| panic!("{input}: WKB does not decode"));
            assert_eq!(to_wkt(&back), canonical, "{input}");
            assert_eq!(encode(&back), wkb, "{input}");
        }
    }

    #[test]
    fn wkb_is_the_iso_little_endian_layout() {
        let wkb = encode(&g("POINT(1 2)"));
        let mut want = vec![1, 1, 0, 0, 0];
        want.extend_from_slice(&1f64.to_le_bytes());
        want.extend_from_slice(&2f64.to_le_bytes());
        assert_eq!(wkb, want);
    }

    #[test]
    fn bad_wkt_is_refused_with_a_reason() {
        for (text, why) in [
            ("not-wkt", "expected a geometry"),
            ("POINT(1 1) junk", "after the geometry"),
            ("POINT(1 1", "unbalanced"),
            ("POINT(1 1))", "unbalanced"),
            ("POINT Z (1 2 3)", "two-dimensional"),
            ("POINT(1)", ""),
            ("POINT(nan 1)", ""),
            ("", "expected a geometry"),
        ] {
            let err = parse_wkt(text).expect_err(text);
            assert!(err.contains(why), "{text}: {err}");
        }
        let deep = format!(
            "{}POINT(1 1){}",
            "GEOMETRYCOLLECTION(".repeat(40),
            ")".repeat(40)
        );
        assert!(parse_wkt(&deep).unwrap_err().contains("deeper than"));
    }

    #[test]
    fn damaged_wkb_is_refused_never_a_panic() {
        let wkb = encode(&g(
            "GEOMETRYCOLLECTION(POLYGON((0 0, 1 0, 1 1, 0 0)), MULTIPOINT((1 2), (3 4)))",
        ));
        for cut in 0..wkb.len() {
            assert!(decode(&wkb[..cut]).is_none(), "prefix of {cut} bytes");
        }
        let mut longer = wkb.clone();
        longer.push(0);
        assert!(decode(&longer).is_none());
        // Counts are checked against the bytes left before anything is allocated.
        let mut huge = vec![1, 2, 0, 0, 0];
        huge.extend_from_slice(&u32::MAX.to_le_bytes());
        assert!(decode(&huge).is_none());
        let mut nested = Vec::new();
        for _ in 0..100 {
            nested.extend_from_slice(&[1, 7, 0, 0, 0, 1, 0, 0, 0]);
        }
        assert!(decode(&nested).is_none());
        // Every single-byte change decodes or is refused; none panics.
        for i in 0..wkb.len() {
            for b in [0u8, 1, 7, 0x80, 0xff] {
                let mut w = wkb.clone();
                w[i] = b;
                let _ = decode(&w);
            }
        }
    }

    #[test]
    fn relations_follow_de9im() {
        let square = g("POLYGON((0 0, 10 0, 10 10, 0 10, 0 0))");
        assert!(relate(&square, &g("POINT(5 5)"), Relation::Contains));
        assert!(!relate(&square, &g("POINT(0 5)"), Relation::Contains));
        assert!(relate(&square, &g("POINT(0 5)"), Relation::Intersects));
        assert!(relate(&square, &g("POINT(0 5)"), Relation::Touches));
        assert!(relate(&g("POINT(1 1)"), &square, Relation::Within));
        assert!(relate(&square, &square, Relation::Within));
        assert!(relate(&square, &square, Relation::Equals));
        assert!(relate(
            &g("LINESTRING(-1 5, 11 5)"),
            &square,
            Relation::Crosses
        ));
        assert!(relate(
            &square,
            &g("POLYGON((5 5, 15 5, 15 15, 5 15, 5 5))"),
            Relation::Overlaps
        ));
        assert!(!relate(&g("POINT EMPTY"), &square, Relation::Intersects));
    }

    #[test]
    fn validity_and_distance_in_meters() {
        assert!(is_valid(&g("POLYGON((0 0, 10 0, 10 10, 0 10, 0 0))")));
        assert!(!is_valid(&g("POLYGON((0 0, 10 10, 10 0, 0 10, 0 0))")));
        // One degree of latitude is about 111.2 km on the haversine sphere.
        let origin = Point::new(0.0, 0.0);
        assert!(dwithin_meters(&g("POINT(0 1)"), origin, 111_200.0));
        assert!(!dwithin_meters(&g("POINT(0 1)"), origin, 111_100.0));
        // A polygon: planar degrees converted at the query point's latitude (111,320 m a degree at 0).
        let square = g("POLYGON((1 -1, 2 -1, 2 1, 1 1, 1 -1))");
        assert!(dwithin_meters(&square, origin, 111_321.0));
        assert!(!dwithin_meters(&square, origin, 111_319.0));
        assert!(dwithin_meters(&square, Point::new(1.5, 0.0), 0.0));
    }
}
