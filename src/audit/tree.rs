//! Stored expression trees (`pg_node_tree` text), compared without deparsing them.
//!
//! `pg_get_expr` costs tens of microseconds a call, and a database of 10,000 tenants holds
//! 100,000 tenant bindings: deparsing each was most of the audit's server time. Bindings
//! differ from one another only in where the parser found each token (`:location`, which
//! moves with the length of the table's name in the statement) and in the schema name
//! they compare with (the one constant). So the audit cuts a tree into its *shape* (the
//! text without either) and its constants, deparses one tree per shape, and, when that
//! one reads as the binding for the schema its constant names, knows every tree of the
//! same shape is the binding for the schema *its* constant names.

/// A tree cut into its shape and its constants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cut {
    /// The text with every `:location N` and every constant's bytes removed.
    pub shape: String,
    /// Each `:constvalue`'s bytes, in order.
    pub constants: Vec<Vec<u8>>,
}

/// Cuts `tree`; `None` when a `:constvalue` is not in the form the server writes, so the
/// caller deparses that tree instead of guessing.
pub fn cut(tree: &str) -> Option<Cut> {
    let mut shape = String::with_capacity(tree.len());
    let mut constants = Vec::new();
    let mut rest = tree;
    loop {
        let location = rest.find(" :location ");
        let value = rest.find(" :constvalue ");
        let location_first = match (location, value) {
            (None, None) => {
                shape.push_str(rest);
                return Some(Cut { shape, constants });
            }
            (Some(l), Some(v)) => l < v,
            (Some(_), None) => true,
            (None, Some(_)) => false,
        };
        if let (true, Some(l)) = (location_first, location) {
            shape.push_str(&rest[..l]);
            let after = &rest[l + " :location ".len()..];
            let digits = after
                .find(|ch: char| !(ch.is_ascii_digit() || ch == '-'))
                .unwrap_or(after.len());
            if digits == 0 {
                return None;
            }
            rest = &after[digits..];
        } else if let Some(v) = value {
            shape.push_str(&rest[..v]);
            shape.push_str(" :constvalue _");
            let after = &rest[v + " :constvalue ".len()..];
            let (bytes, used) = constant(after)?;
            constants.push(bytes);
            rest = &after[used..];
        }
    }
}

/// Reads `64 [ 116 101 0 ]` (the length, then each byte as a signed decimal, as the server's
/// `outDatum` writes it: all of a by-value datum's 8 bytes whatever its length); returns
/// the bytes and how much text it used.
fn constant(text: &str) -> Option<(Vec<u8>, usize)> {
    let open = text.find('[')?;
    let close = open + text[open..].find(']')?;
    let declared: usize = text[..open].trim().parse().ok()?;
    let bytes = text[open + 1..close]
        .split_ascii_whitespace()
        .map(|b| b.parse::<i16>().ok().map(|v| v as u8))
        .collect::<Option<Vec<u8>>>()?;
    let by_value = declared <= 8 && bytes.len() == 8;
    (bytes.len() == declared || by_value).then_some((bytes, close + 1))
}

/// The text of a `name` constant: its bytes up to the first NUL, when they are UTF-8.
pub fn name_constant(bytes: &[u8]) -> Option<String> {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8(bytes[..end].to_vec()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A binding as PostgreSQL 15 stores it for schema `tenant_a`, at two places in the
    /// statement text.
    fn binding(schema: &str, shift: i32) -> String {
        let mut bytes: Vec<String> = schema.bytes().map(|b| (b as i8).to_string()).collect();
        bytes.resize(64, "0".into());
        format!(
            "{{OPEXPR :opno 93 :opfuncid 62 :opresulttype 16 :opretset false :opcollid 0 \
             :inputcollid 950 :args ({{FUNCEXPR :funcid 1402 :funcresulttype 19 :funcretset false \
             :funcvariadic false :funcformat 0 :funccollid 950 :inputcollid 0 :args <> \
             :location {}}} {{CONST :consttype 19 :consttypmod -1 :constcollid 950 :constlen 64 \
             :constbyval false :constisnull false :location {} :constvalue 64 [ {} ]}}) :location {}}}",
            107 + shift,
            158 + shift,
            bytes.join(" "),
            135 + shift
        )
    }

    #[test]
    fn bindings_of_two_schemas_at_two_positions_share_a_shape() {
        let a = cut(&binding("tenant_a", 0)).unwrap();
        let b = cut(&binding("tenant_bb", 17)).unwrap();
        assert_eq!(a.shape, b.shape);
        assert!(!a.shape.contains("location") && !a.shape.contains("116"));
        assert_eq!(name_constant(&a.constants[0]).as_deref(), Some("tenant_a"));
        assert_eq!(name_constant(&b.constants[0]).as_deref(), Some("tenant_bb"));
    }

    #[test]
    fn any_other_difference_keeps_shapes_apart() {
        let a = cut(&binding("tenant_a", 0)).unwrap();
        let other_function = binding("tenant_a", 0).replace(":funcid 1402", ":funcid 1403");
        assert_ne!(cut(&other_function).unwrap().shape, a.shape);
        let other_operator = binding("tenant_a", 0).replace(":opno 93", ":opno 94");
        assert_ne!(cut(&other_operator).unwrap().shape, a.shape);
    }

    #[test]
    fn bytes_above_127_and_unreadable_constants() {
        let c = cut("{CONST :constvalue 3 [ -61 -87 0 ]}").unwrap();
        assert_eq!(name_constant(&c.constants[0]).as_deref(), Some("é"));
        // A length that does not match the bytes, or no bracket: not guessed at.
        assert_eq!(cut("{CONST :constvalue 4 [ 1 2 ]}"), None);
        // A by-value datum is written whole.
        let t = cut("{CONST :constlen 1 :constvalue 1 [ 1 0 0 0 0 0 0 0 ]}").unwrap();
        assert_eq!(t.constants[0].len(), 8);
        assert_eq!(cut("{CONST :constvalue 4 1 2}"), None);
        assert_eq!(cut("{X :location }"), None);
        // Without any location or constant, the shape is the text.
        let t = cut("{CONST :consttype 16 :constisnull false}").unwrap();
        assert_eq!(t.shape, "{CONST :consttype 16 :constisnull false}");
    }
}
