//! The word lists that tell a one-time code from the numbers around it.

pub(super) struct Keyword {
    pub(super) pat: &'static str,
    /// Short words ("pin", "otp") must end at a word boundary ("pink").
    pub(super) whole: bool,
}

pub(super) const fn kw(pat: &'static str) -> Keyword {
    Keyword { pat, whole: false }
}

pub(super) const fn kw_whole(pat: &'static str) -> Keyword {
    Keyword { pat, whole: true }
}

/// Lower-case stems; all but the CJK ones must start at a word boundary so
/// "zipcode"/"postcode" do not count as "code".
pub(super) const KEYWORDS: &[Keyword] = &[
    kw("code"),
    kw("passcode"),
    kw("verif"),
    kw("vérif"),
    kw("one-time"),
    kw("one time"),
    kw("onetime"),
    kw("confirm"),
    kw("login"),
    kw("log in"),
    kw("log-in"),
    kw("sign in"),
    kw("sign-in"),
    kw("signin"),
    kw("authenticat"),
    kw("token"),
    kw("is:"),
    kw("código"),
    kw("codigo"),
    kw("codice"),
    kw("bestätig"),
    kw("sicherheitscode"),
    kw("zugangscode"),
    kw("anmelde"),
    kw("einmal"),
    kw("kod"),
    kw("код"),
    kw_whole("pin"),
    kw_whole("otp"),
    kw_whole("2fa"),
    kw_whole("mfa"),
    kw_whole("tan"),
    kw("验证码"),
    kw("驗證碼"),
    kw("校验码"),
    kw("动态码"),
    kw("認証コード"),
    kw("確認コード"),
    kw("인증"),
];

/// "zip code", "promo code", "area code": a code, but not a one-time one.
pub(super) const NOT_OTP_CODE: &[&str] = &[
    "zip", "postal", "post", "area", "country", "dial", "promo", "coupon", "discount", "voucher",
    "gift", "referral", "source", "qr", "bar", "dress", "sort", "swift", "tax", "colour", "color",
    "hex",
];

/// Whether the word just before a "code" keyword (text before it is `before`)
/// is one of NOT_OTP_CODE. Looks back a few bytes only, to stay linear.
pub(super) fn labels_other_code(before: &str) -> bool {
    let mut from = before.len().saturating_sub(24);
    while !before.is_char_boundary(from) {
        from += 1;
    }
    let tail = before[from..].trim_end_matches(|c: char| c.is_whitespace() || c == '-');
    let word = tail
        .rsplit(|c: char| !c.is_alphanumeric())
        .next()
        .unwrap_or("");
    NOT_OTP_CODE.contains(&word)
}

/// Words right before a number that say it is an identifier, not a code.
pub(super) const ANTI: &[&str] = &[
    "order",
    "invoice",
    "account",
    "acct",
    "ref",
    "reference",
    "ticket",
    "case",
    "tracking",
    "customer",
    "member",
    "membership",
    "booking",
    "reservation",
    "id",
    "no",
    "nr",
    "#",
    "box",
    "suite",
    "ste",
    "apt",
    "unit",
    "floor",
    "zip",
    "postal",
    "postcode",
    "plz",
    "tel",
    "phone",
    "fax",
    "call",
    "mobile",
    "page",
    "flight",
    "gate",
    "seat",
    "room",
    "color",
    "colour",
    "hex",
    "version",
    "build",
    "model",
    "serial",
    "sku",
    "item",
    "product",
    "part",
    "iban",
    "routing",
    "ext",
];

/// Promotional codes are codes, but not the one-time kind a test wants.
pub(super) const MARKETING: &[&str] = &[
    "promo",
    "promotional",
    "coupon",
    "discount",
    "voucher",
    "gutschein",
    "rabatt",
    "gift",
    "referral",
    "cupón",
    "cupon",
];

pub(super) const CURRENCY: &[&str] = &[
    "$", "€", "£", "¥", "₹", "us$", "usd", "eur", "gbp", "jpy", "cny", "rmb", "inr", "cad", "aud",
    "chf", "sek", "nok", "dkk", "pln", "brl", "mxn", "dollar", "dollars", "euro", "euros",
    "pounds", "yen", "rupees",
];

pub(super) const UNITS: &[&str] = &[
    "%",
    "percent",
    "km",
    "mi",
    "kg",
    "lb",
    "lbs",
    "mb",
    "gb",
    "kb",
    "tb",
    "px",
    "ms",
    "sec",
    "seconds",
    "minutes",
    "mins",
    "hours",
    "hrs",
    "days",
    "users",
    "people",
    "members",
    "subscribers",
    "followers",
    "customers",
    "items",
    "points",
    "pts",
    "miles",
    "steps",
    "views",
    "likes",
    "downloads",
    "words",
    "characters",
    "reviews",
    "products",
    "times",
];

/// Words that may stand between a keyword and its code ("code is 2026").
pub(super) const LINKING: &[&str] = &[
    "", "is", "ist", "lautet", "es", "est", "è", "é", "är", "er", "-", "–", "—", "=",
];

/// Street-type words; a number in the same clause is a house number or a zip.
pub(super) const STREET: &[&str] = &[
    "street",
    "st",
    "avenue",
    "ave",
    "road",
    "rd",
    "parkway",
    "pkwy",
    "boulevard",
    "blvd",
    "drive",
    "dr",
    "lane",
    "ln",
    "way",
    "court",
    "ct",
    "place",
    "pl",
    "square",
    "sq",
    "highway",
    "hwy",
    "plaza",
    "terrace",
    "suite",
    "ste",
    "floor",
    "str",
    "allee",
    "weg",
    "platz",
    "rue",
    "avenida",
    "calle",
    "via",
];
pub(super) const STREET_SUFFIX: &[&str] = &["straße", "strasse", "gasse", "allee", "platz"];

/// Symbols glued in front of a number that make it a price, reference,
/// colour, phone number, path or copyright year.
pub(super) const BAD_LEAD: &str = "$€£¥₹#+@/\\&=~^©®§№";
/// Symbols glued after a number that make it an amount, percentage or path.
pub(super) const BAD_TRAIL: &str = "%‰€$£¥₹@/\\=°+";
