//! What a foreign card says about itself: the FCI template (`6F`, proprietary part `A5`) it
//! returns to a SELECT, parsed with `iso7816-tlv`, so a refused card can be named ("VISA DEBIT")
//! instead of being reported by a bare status word.

use iso7816_tlv::ber::{Tag, Tlv};

/// Payment System Environment names (EMV Book 1 §12.2.2): `2PAY…` is the proximity directory,
/// whose FCI lists each application with its label; `1PAY…` the contact one.
pub(crate) const PAYMENT_DIRECTORIES: [&[u8]; 2] = [b"2PAY.SYS.DDF01", b"1PAY.SYS.DDF01"];

/// An FCI is one short response; anything longer is not parsed (a hostile card could nest
/// constructed tags thousands deep otherwise).
const MAX_FCI: usize = 256;

/// EMV labels are 1–16 characters; a little slack for cards that stretch it.
const MAX_LABEL: usize = 32;

/// Application label (tag `50`) found anywhere in an FCI (`6F` → `A5` → `BF0C` → `61` for a
/// payment directory), as printable text; `None` when the bytes hold no usable label.
/// Never panics, whatever the bytes.
pub fn application_label(fci: &[u8]) -> Option<String> {
    if fci.len() > MAX_FCI {
        return None;
    }
    let tag = Tag::try_from(0x50u8).ok()?;
    Tlv::parse_all(fci)
        .iter()
        .find_map(|tlv| tlv.find(&tag))
        .and_then(|label| match label.value() {
            iso7816_tlv::ber::Value::Primitive(bytes) => printable(bytes),
            iso7816_tlv::ber::Value::Constructed(_) => None,
        })
}

/// Labels are EMV "ans" (printable ASCII); anything else is shown as `?` so a card cannot put
/// control characters on the pharmacist's terminal.
fn printable(bytes: &[u8]) -> Option<String> {
    let text: String = bytes
        .iter()
        .take(MAX_LABEL)
        .map(|&b| {
            if (0x20..0x7F).contains(&b) {
                char::from(b)
            } else {
                '?'
            }
        })
        .collect();
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

#[cfg(test)]
pub(crate) mod tests_support {
    /// A Visa debit card's answer to SELECT `2PAY.SYS.DDF01` (the `bank` fixture's bytes).
    pub(crate) const PPSE_FCI: &[u8] = &[
        0x6F, 0x2F, 0x84, 0x0E, b'2', b'P', b'A', b'Y', b'.', b'S', b'Y', b'S', b'.', b'D', b'D',
        b'F', b'0', b'1', 0xA5, 0x1D, 0xBF, 0x0C, 0x1A, 0x61, 0x18, 0x4F, 0x07, 0xA0, 0x00, 0x00,
        0x00, 0x03, 0x10, 0x10, 0x50, 0x0A, b'V', b'I', b'S', b'A', b' ', b'D', b'E', b'B', b'I',
        b'T', 0x87, 0x01, 0x01,
    ];
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn a_payment_directory_names_its_application() {
        assert_eq!(
            application_label(super::tests_support::PPSE_FCI).as_deref(),
            Some("VISA DEBIT")
        );
    }

    #[test]
    fn a_label_directly_in_the_proprietary_template_is_found() {
        // 6F { 84 AID, A5 { 50 "MAESTRO" } }
        let fci = hex("6F148407A0000000043060A50950074D41455354524F");
        assert_eq!(application_label(&fci).as_deref(), Some("MAESTRO"));
    }

    #[test]
    fn no_label_garbage_and_control_characters() {
        assert_eq!(application_label(&[]), None);
        assert_eq!(application_label(&hex("6F03840100")), None);
        assert_eq!(application_label(&hex("6FFF")), None);
        assert_eq!(application_label(&hex("5000")), None);
        assert_eq!(
            application_label(&hex("50034F0A4B")).as_deref(),
            Some("O?K")
        );
        assert_eq!(application_label(&[0x6F; 300]), None);
    }
}
