package hf

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// regex is an Oniguruma-syntax regular expression, as the patterns of tokenizer.json are
// written for the Rust onig crate. Patterns that RE2 can express (no look-around, atomic
// groups or possessive quantifiers) are translated and run by Go's regexp, which is
// linear-time; the others run on a small backtracking matcher with a step budget, so a
// hostile pattern returns an error instead of running forever. Leftmost-first alternation,
// greedy and lazy quantifiers behave as in Oniguruma in both engines.
type regex struct {
	src  string
	root *rnode
	re   *regexp.Regexp // nil: use the backtracker
}

const (
	maxRegexLen   = 1 << 16
	maxRegexNodes = 1 << 14
	// regexStepBudget bounds the backtracker's work per search call, per input byte.
	regexStepBudget = 20000
)

var errRegexBudget = errors.New("hf: regex backtracking budget exceeded")

type rkind uint8

const (
	rLit rkind = iota
	rClass
	rAny
	rConcat
	rAlt
	rRepeat
	rLook
	rAtomic
	rAssert
	rEmpty
)

type assertKind uint8

const (
	aBOL assertKind = iota
	aEOL
	aBOS
	aEOS
	aEOSNL
	aWordB
	aNotWordB
)

type rnode struct {
	kind       rkind
	r          rune
	fold       bool
	cls        *rclass
	dotall     bool
	subs       []*rnode
	min, max   int // max < 0: unbounded
	greedy     bool
	possessive bool
	ahead, neg bool
	assert     assertKind
}

// rclass is a set of code points as sorted, non-overlapping ranges.
type rclass struct {
	r     [][2]rune
	ascii [4]uint32 // bitmap of ASCII members
}

func (c *rclass) finish() {
	sort.Slice(c.r, func(i, j int) bool { return c.r[i][0] < c.r[j][0] })
	out := c.r[:0]
	for _, x := range c.r {
		if len(out) > 0 && x[0] <= out[len(out)-1][1]+1 {
			if x[1] > out[len(out)-1][1] {
				out[len(out)-1][1] = x[1]
			}
			continue
		}
		out = append(out, x)
	}
	c.r = out
	c.ascii = [4]uint32{}
	for _, x := range c.r {
		for r := x[0]; r <= x[1] && r < 128; r++ {
			c.ascii[r>>5] |= 1 << (r & 31)
		}
	}
}

func (c *rclass) has(r rune) bool {
	if r < 128 && r >= 0 {
		return c.ascii[r>>5]&(1<<(r&31)) != 0
	}
	lo, hi := 0, len(c.r)
	for lo < hi {
		m := (lo + hi) / 2
		switch {
		case r < c.r[m][0]:
			hi = m
		case r > c.r[m][1]:
			lo = m + 1
		default:
			return true
		}
	}
	return false
}

func (c *rclass) negate() {
	var out [][2]rune
	next := rune(0)
	for _, x := range c.r {
		if x[0] > next {
			out = append(out, [2]rune{next, x[0] - 1})
		}
		next = x[1] + 1
	}
	if next <= unicode.MaxRune {
		out = append(out, [2]rune{next, unicode.MaxRune})
	}
	c.r = out
	c.finish()
}

func (c *rclass) intersect(o *rclass) {
	var out [][2]rune
	i, j := 0, 0
	for i < len(c.r) && j < len(o.r) {
		lo, hi := max(c.r[i][0], o.r[j][0]), min(c.r[i][1], o.r[j][1])
		if lo <= hi {
			out = append(out, [2]rune{lo, hi})
		}
		if c.r[i][1] < o.r[j][1] {
			i++
		} else {
			j++
		}
	}
	c.r = out
	c.finish()
}

func (c *rclass) addTable(t *unicode.RangeTable) {
	for _, x := range t.R16 {
		for lo := rune(x.Lo); lo <= rune(x.Hi); lo += rune(x.Stride) {
			if x.Stride == 1 {
				c.r = append(c.r, [2]rune{lo, rune(x.Hi)})
				break
			}
			c.r = append(c.r, [2]rune{lo, lo})
		}
	}
	for _, x := range t.R32 {
		for lo := rune(x.Lo); lo <= rune(x.Hi); lo += rune(x.Stride) {
			if x.Stride == 1 {
				c.r = append(c.r, [2]rune{lo, rune(x.Hi)})
				break
			}
			c.r = append(c.r, [2]rune{lo, lo})
		}
	}
}

// addFold adds the case variants of the class's members (for small classes).
func (c *rclass) addFold() {
	n := 0
	for _, x := range c.r {
		n += int(x[1]-x[0]) + 1
	}
	if n > 5000 {
		return
	}
	var extra [][2]rune
	for _, x := range c.r {
		for r := x[0]; r <= x[1]; r++ {
			for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
				extra = append(extra, [2]rune{f, f})
			}
		}
	}
	c.r = append(c.r, extra...)
	c.finish()
}

// whiteSpace is Oniguruma's \s (and Rust's char::is_whitespace): the White_Space property.
var whiteSpace = [][2]rune{{9, 13}, {32, 32}, {0x85, 0x85}, {0xA0, 0xA0}, {0x1680, 0x1680},
	{0x2000, 0x200A}, {0x2028, 0x2029}, {0x202F, 0x202F}, {0x205F, 0x205F}, {0x3000, 0x3000}}

// propertyClass resolves an Oniguruma property name (\p{...}).
func propertyClass(name string) (*rclass, error) {
	key := strings.ToLower(strings.NewReplacer("_", "", " ", "", "-", "").Replace(name))
	c := &rclass{}
	switch key {
	case "any":
		c.r = [][2]rune{{0, unicode.MaxRune}}
	case "ascii":
		c.r = [][2]rune{{0, 127}}
	case "space", "whitespace":
		c.r = append(c.r, whiteSpace...)
	case "word":
		c.r = append(c.r, onigWord.r...)
	case "alnum":
		c.r = append(c.r, u16Alphabetic.r...)
		c.r = append(c.r, u16Decimal.r...)
	case "alpha", "alphabetic":
		c.r = append(c.r, u16Alphabetic.r...)
	case "digit", "nd", "decimalnumber":
		c.r = append(c.r, u16Decimal.r...)
	case "l", "letter":
		c.r = append(c.r, u16Letter.r...)
	case "m", "mark", "combiningmark":
		c.r = append(c.r, u16Mark.r...)
	case "n", "number":
		c.r = append(c.r, u16Number.r...)
	case "upper", "uppercase":
		c.addTable(unicode.Lu)
		c.addTable(unicode.Other_Uppercase)
	case "lower", "lowercase":
		c.addTable(unicode.Ll)
		c.addTable(unicode.Other_Lowercase)
	case "punct", "p", "punctuation":
		c.r = append(c.r, u16Punct.r...)
	case "posixpunct": // [[:punct:]]: punctuation and symbols
		c.r = append(c.r, u16Punct.r...)
		c.r = append(c.r, u16Symbol.r...)
	case "s", "symbol":
		c.r = append(c.r, u16Symbol.r...)
	case "cntrl":
		c.addTable(unicode.Cc)
	case "lamp", "l&", "casedletter", "lc":
		c.addTable(unicode.Lu)
		c.addTable(unicode.Ll)
		c.addTable(unicode.Lt)
	case "cn", "unassigned":
		all := &rclass{}
		for _, t := range unicode.Categories {
			all.addTable(t)
		}
		all.finish()
		all.negate()
		c.r = all.r
	default:
		if t := categoryByName(key); t != nil {
			c.addTable(t)
			break
		}
		found := false
		for n, t := range unicode.Scripts {
			if strings.ToLower(strings.ReplaceAll(n, "_", "")) == key {
				c.addTable(t)
				found = true
				break
			}
		}
		if !found {
			for n, t := range unicode.Properties {
				if strings.ToLower(strings.ReplaceAll(n, "_", "")) == key {
					c.addTable(t)
					found = true
					break
				}
			}
		}
		if !found {
			return nil, fmt.Errorf("invalid character property name {%s}", name)
		}
	}
	c.finish()
	return c, nil
}

var categoryLong = map[string]string{
	"letter": "L", "uppercaseletter": "Lu", "lowercaseletter": "Ll", "titlecaseletter": "Lt",
	"modifierletter": "Lm", "otherletter": "Lo", "mark": "M", "combiningmark": "M",
	"nonspacingmark": "Mn", "spacingmark": "Mc", "enclosingmark": "Me", "number": "N",
	"decimalnumber": "Nd", "letternumber": "Nl", "othernumber": "No", "punctuation": "P",
	"connectorpunctuation": "Pc", "dashpunctuation": "Pd", "openpunctuation": "Ps",
	"closepunctuation": "Pe", "initialpunctuation": "Pi", "finalpunctuation": "Pf",
	"otherpunctuation": "Po", "symbol": "S", "mathsymbol": "Sm", "currencysymbol": "Sc",
	"modifiersymbol": "Sk", "othersymbol": "So", "separator": "Z", "spaceseparator": "Zs",
	"lineseparator": "Zl", "paragraphseparator": "Zp", "other": "C", "control": "Cc",
	"format": "Cf", "privateuse": "Co", "surrogate": "Cs",
}

func categoryByName(key string) *unicode.RangeTable {
	if l, ok := categoryLong[key]; ok {
		key = strings.ToLower(l)
	}
	for n, t := range unicode.Categories {
		if strings.ToLower(n) == key {
			return t
		}
	}
	return nil
}

// ---- parser ----

type rparser struct {
	src   []rune
	pos   int
	fold  bool
	dotal bool
	nodes int
}

func compileRegex(src string) (*regex, error) {
	if len(src) > maxRegexLen {
		return nil, fmt.Errorf("pattern of %d bytes exceeds the limit of %d", len(src), maxRegexLen)
	}
	if !utf8.ValidString(src) {
		return nil, errors.New("pattern is not valid UTF-8")
	}
	p := &rparser{src: []rune(src)}
	root, err := p.parseAlt()
	if err != nil {
		return nil, err
	}
	if p.pos < len(p.src) {
		return nil, errors.New("unmatched close parenthesis")
	}
	re := &regex{src: src, root: root}
	if goSrc, ok := emitGo(root); ok {
		if g, err := regexp.Compile(goSrc); err == nil {
			re.re = g
		}
	}
	if re.re == nil {
		if err := checkLookbehinds(root); err != nil {
			return nil, err
		}
	}
	return re, nil
}

func (p *rparser) node(n *rnode) (*rnode, error) {
	p.nodes++
	if p.nodes > maxRegexNodes {
		return nil, errors.New("pattern too complex")
	}
	return n, nil
}

func (p *rparser) more() bool { return p.pos < len(p.src) }
func (p *rparser) peek() rune { return p.src[p.pos] }

func (p *rparser) parseAlt() (*rnode, error) {
	var alts []*rnode
	fold, dotall := p.fold, p.dotal
	for {
		c, err := p.parseConcat()
		if err != nil {
			return nil, err
		}
		alts = append(alts, c)
		if p.more() && p.peek() == '|' {
			p.pos++
			continue
		}
		break
	}
	p.fold, p.dotal = fold, dotall
	if len(alts) == 1 {
		return alts[0], nil
	}
	return p.node(&rnode{kind: rAlt, subs: alts})
}

func (p *rparser) parseConcat() (*rnode, error) {
	var items []*rnode
	for p.more() {
		c := p.peek()
		if c == '|' || c == ')' {
			break
		}
		atom, err := p.parseAtom()
		if err != nil {
			return nil, err
		}
		if atom == nil {
			continue
		}
		atom, err = p.parseQuant(atom)
		if err != nil {
			return nil, err
		}
		items = append(items, atom)
	}
	if len(items) == 1 {
		return items[0], nil
	}
	if len(items) == 0 {
		return p.node(&rnode{kind: rEmpty})
	}
	return p.node(&rnode{kind: rConcat, subs: items})
}

func (p *rparser) parseQuant(atom *rnode) (*rnode, error) {
	for p.more() {
		c := p.peek()
		min, max := 0, 0
		switch c {
		case '*':
			min, max = 0, -1
			p.pos++
		case '+':
			min, max = 1, -1
			p.pos++
		case '?':
			min, max = 0, 1
			p.pos++
		case '{':
			mn, mx, ok := p.parseBraces()
			if !ok {
				return atom, nil // a literal '{'
			}
			min, max = mn, mx
		default:
			return atom, nil
		}
		if atom.kind == rAssert || atom.kind == rLook {
			return nil, errors.New("target of repeat operator is invalid")
		}
		n := &rnode{kind: rRepeat, subs: []*rnode{atom}, min: min, max: max, greedy: true}
		if p.more() && p.peek() == '?' {
			n.greedy = false
			p.pos++
		} else if p.more() && p.peek() == '+' && c != '{' {
			n.possessive = true
			p.pos++
		}
		var err error
		if atom, err = p.node(n); err != nil {
			return nil, err
		}
	}
	return atom, nil
}

// parseBraces reads {n}, {n,}, {,m} or {n,m}; ok is false when the brace is a literal.
func (p *rparser) parseBraces() (int, int, bool) {
	i := p.pos + 1
	num := func() (int, bool) {
		st := i
		for i < len(p.src) && p.src[i] >= '0' && p.src[i] <= '9' {
			i++
		}
		if i == st {
			return 0, false
		}
		v, err := strconv.Atoi(string(p.src[st:i]))
		if err != nil || v > 100000 {
			return 0, false
		}
		return v, true
	}
	mn, okMin := num()
	mx := mn
	if i < len(p.src) && p.src[i] == ',' {
		i++
		var okMax bool
		mx, okMax = num()
		if !okMax {
			mx = -1
		}
		if !okMin && !okMax {
			return 0, 0, false
		}
	} else if !okMin {
		return 0, 0, false
	}
	if i >= len(p.src) || p.src[i] != '}' {
		return 0, 0, false
	}
	if mx >= 0 && mx < mn {
		return 0, 0, false
	}
	p.pos = i + 1
	return mn, mx, true
}

func (p *rparser) parseAtom() (*rnode, error) {
	c := p.src[p.pos]
	p.pos++
	switch c {
	case '(':
		return p.parseGroup()
	case '[':
		cls, err := p.parseClass()
		if err != nil {
			return nil, err
		}
		return p.node(&rnode{kind: rClass, cls: cls})
	case '.':
		return p.node(&rnode{kind: rAny, dotall: p.dotal})
	case '^':
		return p.node(&rnode{kind: rAssert, assert: aBOL})
	case '$':
		return p.node(&rnode{kind: rAssert, assert: aEOL})
	case '\\':
		return p.parseEscape()
	case '*', '+', '?':
		return nil, errors.New("target of repeat operator is not specified")
	}
	return p.node(&rnode{kind: rLit, r: c, fold: p.fold})
}

func (p *rparser) parseGroup() (*rnode, error) {
	kind := rConcat // plain group
	var look, neg, behind bool
	fold, dotall := p.fold, p.dotal
	if p.more() && p.peek() == '?' {
		p.pos++
		if !p.more() {
			return nil, errors.New("end pattern in group")
		}
		switch c := p.peek(); c {
		case ':':
			p.pos++
		case '=', '!':
			p.pos++
			look, neg = true, c == '!'
		case '>':
			p.pos++
			kind = rAtomic
		case '<':
			p.pos++
			if !p.more() {
				return nil, errors.New("end pattern in group")
			}
			if p.peek() == '=' || p.peek() == '!' {
				look, behind, neg = true, true, p.peek() == '!'
				p.pos++
			} else { // named group
				for p.more() && p.peek() != '>' {
					p.pos++
				}
				if !p.more() {
					return nil, errors.New("invalid group name")
				}
				p.pos++
			}
		case '#':
			for p.more() && p.peek() != ')' {
				p.pos++
			}
			if !p.more() {
				return nil, errors.New("end pattern in group")
			}
			p.pos++
			return nil, nil
		default:
			// inline options (?imx-imx) or (?imx-imx:...)
			on := true
			for p.more() {
				c := p.peek()
				if c == ')' {
					p.pos++
					return nil, nil // options apply to the rest of the enclosing group
				}
				if c == ':' {
					p.pos++
					break
				}
				switch c {
				case '-':
					on = false
				case 'i':
					p.fold = on
				case 'm':
					p.dotal = on
				case 'x':
					return nil, errors.New("extended mode (?x) is not supported")
				default:
					return nil, errors.New("undefined group option")
				}
				p.pos++
			}
		}
	}
	sub, err := p.parseAlt()
	if err != nil {
		return nil, err
	}
	if !p.more() || p.peek() != ')' {
		return nil, errors.New("end pattern with unmatched parenthesis")
	}
	p.pos++
	p.fold, p.dotal = fold, dotall
	switch {
	case look:
		return p.node(&rnode{kind: rLook, subs: []*rnode{sub}, ahead: !behind, neg: neg})
	case kind == rAtomic:
		return p.node(&rnode{kind: rAtomic, subs: []*rnode{sub}})
	}
	return sub, nil
}

// escapeClass returns the class of a class escape (\d, \s, \w, \h, \p{..} and negations).
//
// Inside brackets Oniguruma expands \w from the Unicode Word table, outside from its ctype
// table, which also counts the Latin-1 ² ³ ¹ ¼ ½ ¾ as word chars (inClass selects).
func (p *rparser) escapeClass(c rune, inClass bool) (*rclass, bool, error) {
	cls := &rclass{}
	neg := false
	switch c {
	case 'd', 'D':
		cls.r = append(cls.r, u16Decimal.r...)
		neg = c == 'D'
	case 's', 'S':
		cls.r = append(cls.r, whiteSpace...)
		neg = c == 'S'
	case 'w', 'W':
		if inClass {
			cls.r = append(cls.r, unicodeWord.r...)
		} else {
			cls.r = append(cls.r, onigWord.r...)
		}
		neg = c == 'W'
	case 'h', 'H':
		cls.r = [][2]rune{{'0', '9'}, {'A', 'F'}, {'a', 'f'}}
		neg = c == 'H'
	case 'p', 'P':
		neg = c == 'P'
		if !p.more() || p.peek() != '{' {
			return nil, false, errors.New("invalid character property name")
		}
		end := p.pos + 1
		for end < len(p.src) && p.src[end] != '}' {
			end++
		}
		if end >= len(p.src) {
			return nil, false, errors.New("invalid character property name")
		}
		name := string(p.src[p.pos+1 : end])
		p.pos = end + 1
		if strings.HasPrefix(name, "^") {
			name = name[1:]
			neg = !neg
		}
		pc, err := propertyClass(name)
		if err != nil {
			return nil, false, err
		}
		cls = pc
	default:
		return nil, false, nil
	}
	cls.finish()
	if neg {
		cls.negate()
	}
	return cls, true, nil
}

// escapeRune decodes a literal escape.
func (p *rparser) escapeRune(c rune) (rune, error) {
	switch c {
	case 't':
		return '\t', nil
	case 'n':
		return '\n', nil
	case 'r':
		return '\r', nil
	case 'f':
		return '\f', nil
	case 'v':
		return '\v', nil
	case 'a':
		return 7, nil
	case 'e':
		return 27, nil
	case '0':
		v := 0
		for k := 0; k < 2 && p.more() && p.peek() >= '0' && p.peek() <= '7'; k++ {
			v = v*8 + int(p.peek()-'0')
			p.pos++
		}
		return rune(v), nil
	case 'x':
		if p.more() && p.peek() == '{' {
			end := p.pos + 1
			for end < len(p.src) && p.src[end] != '}' {
				end++
			}
			if end >= len(p.src) {
				return 0, errors.New("invalid code point value")
			}
			v, err := strconv.ParseUint(string(p.src[p.pos+1:end]), 16, 32)
			if err != nil || v > unicode.MaxRune {
				return 0, errors.New("invalid code point value")
			}
			p.pos = end + 1
			return rune(v), nil
		}
		v := 0
		for k := 0; k < 2 && p.more() && isHex(p.peek()); k++ {
			v = v*16 + hexVal(p.peek())
			p.pos++
		}
		return rune(v), nil
	case 'u':
		v := 0
		for k := 0; k < 4; k++ {
			if !p.more() || !isHex(p.peek()) {
				return 0, errors.New("invalid Unicode escape")
			}
			v = v*16 + hexVal(p.peek())
			p.pos++
		}
		return rune(v), nil
	}
	if c >= '1' && c <= '9' {
		return 0, errors.New("back references are not supported")
	}
	if (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') {
		return 0, fmt.Errorf("unsupported escape \\%c", c)
	}
	return c, nil
}

func isHex(r rune) bool {
	return (r >= '0' && r <= '9') || (r >= 'a' && r <= 'f') || (r >= 'A' && r <= 'F')
}

func hexVal(r rune) int {
	switch {
	case r >= '0' && r <= '9':
		return int(r - '0')
	case r >= 'a' && r <= 'f':
		return int(r-'a') + 10
	}
	return int(r-'A') + 10
}

func (p *rparser) parseEscape() (*rnode, error) {
	if !p.more() {
		return nil, errors.New("end pattern at escape")
	}
	c := p.peek()
	p.pos++
	switch c {
	case 'A':
		return p.node(&rnode{kind: rAssert, assert: aBOS})
	case 'z':
		return p.node(&rnode{kind: rAssert, assert: aEOS})
	case 'Z':
		return p.node(&rnode{kind: rAssert, assert: aEOSNL})
	case 'b':
		return p.node(&rnode{kind: rAssert, assert: aWordB})
	case 'B':
		return p.node(&rnode{kind: rAssert, assert: aNotWordB})
	case 'G':
		return p.node(&rnode{kind: rAssert, assert: aBOS})
	}
	cls, ok, err := p.escapeClass(c, false)
	if err != nil {
		return nil, err
	}
	if ok {
		if p.fold {
			cls.addFold()
		}
		return p.node(&rnode{kind: rClass, cls: cls})
	}
	r, err := p.escapeRune(c)
	if err != nil {
		return nil, err
	}
	return p.node(&rnode{kind: rLit, r: r, fold: p.fold})
}

var posixClasses = map[string]string{
	"alpha": "Alpha", "digit": "Digit", "alnum": "Alnum", "upper": "Upper", "lower": "Lower",
	"space": "Space", "punct": "PosixPunct", "cntrl": "Cntrl", "word": "Word", "ascii": "ASCII",
}

func (p *rparser) parseClass() (*rclass, error) {
	cls := &rclass{}
	neg := false
	if p.more() && p.peek() == '^' {
		neg = true
		p.pos++
	}
	first := true
	var inter []*rclass
	for {
		if !p.more() {
			return nil, errors.New("premature end of char-class")
		}
		c := p.peek()
		if c == ']' && !first {
			p.pos++
			break
		}
		first = false
		if c == '[' {
			if p.pos+1 < len(p.src) && p.src[p.pos+1] == ':' {
				end := p.pos + 2
				for end < len(p.src) && p.src[end] != ':' {
					end++
				}
				if end+1 < len(p.src) && p.src[end+1] == ']' {
					name := string(p.src[p.pos+2 : end])
					pneg := strings.HasPrefix(name, "^")
					name = strings.TrimPrefix(name, "^")
					if pn, ok := posixClasses[name]; ok {
						pc, err := propertyClass(pn)
						if err != nil {
							return nil, err
						}
						if pneg {
							pc.negate()
						}
						cls.r = append(cls.r, pc.r...)
						p.pos = end + 2
						continue
					}
				}
			}
			p.pos++
			sub, err := p.parseClass()
			if err != nil {
				return nil, err
			}
			cls.r = append(cls.r, sub.r...)
			continue
		}
		if c == '&' && p.pos+1 < len(p.src) && p.src[p.pos+1] == '&' {
			p.pos += 2
			rest := &rclass{}
			// the right side runs to the end of this class
			sub, err := p.parseClassBody()
			if err != nil {
				return nil, err
			}
			rest.r = sub.r
			rest.finish()
			inter = append(inter, rest)
			break
		}
		lo, isSet, set, err := p.classAtom()
		if err != nil {
			return nil, err
		}
		if isSet {
			cls.r = append(cls.r, set.r...)
			continue
		}
		if p.pos+1 < len(p.src) && p.peek() == '-' && p.src[p.pos+1] != ']' {
			p.pos++
			hi, isSet2, _, err := p.classAtom()
			if err != nil {
				return nil, err
			}
			if isSet2 {
				return nil, errors.New("char-class value at end of range")
			}
			if hi < lo {
				return nil, errors.New("empty range in char class")
			}
			cls.r = append(cls.r, [2]rune{lo, hi})
			continue
		}
		cls.r = append(cls.r, [2]rune{lo, lo})
	}
	cls.finish()
	for _, x := range inter {
		cls.intersect(x)
	}
	if p.fold {
		cls.addFold()
	}
	if neg {
		cls.negate()
	}
	return cls, nil
}

// parseClassBody parses class items up to and including the closing ']' (the right side of
// an && intersection).
func (p *rparser) parseClassBody() (*rclass, error) {
	p.src = append(p.src[:p.pos:p.pos], append([]rune{'['}, p.src[p.pos:]...)...)
	p.pos++
	return p.parseClass()
}

func (p *rparser) classAtom() (rune, bool, *rclass, error) {
	c := p.peek()
	p.pos++
	if c != '\\' {
		return c, false, nil, nil
	}
	if !p.more() {
		return 0, false, nil, errors.New("end pattern at escape")
	}
	e := p.peek()
	p.pos++
	if cls, ok, err := p.escapeClass(e, true); err != nil || ok {
		return 0, ok, cls, err
	}
	if e == 'b' {
		return 8, false, nil, nil
	}
	r, err := p.escapeRune(e)
	return r, false, nil, err
}

// ---- translation to RE2 syntax ----

func emitGo(n *rnode) (string, bool) {
	var b strings.Builder
	b.WriteString("(?s:") // dots are emitted explicitly
	if !emitNode(&b, n) {
		return "", false
	}
	b.WriteString(")")
	return b.String(), true
}

func emitClass(b *strings.Builder, c *rclass) {
	if len(c.r) == 0 {
		b.WriteString(`[^\x00-\x{10FFFF}]`)
		return
	}
	b.WriteByte('[')
	for _, x := range c.r {
		fmt.Fprintf(b, `\x{%X}`, x[0])
		if x[1] != x[0] {
			fmt.Fprintf(b, `-\x{%X}`, x[1])
		}
	}
	b.WriteByte(']')
}

func emitNode(b *strings.Builder, n *rnode) bool {
	switch n.kind {
	case rLit:
		if n.fold {
			b.WriteString("(?i:")
		}
		b.WriteString(regexp.QuoteMeta(string(n.r)))
		if n.fold {
			b.WriteString(")")
		}
	case rClass:
		emitClass(b, n.cls)
	case rAny:
		if n.dotall {
			b.WriteString(`[\x00-\x{10FFFF}]`)
		} else {
			b.WriteString(`[^\n]`)
		}
	case rEmpty:
		b.WriteString("(?:)")
	case rConcat:
		b.WriteString("(?:")
		for _, s := range n.subs {
			if !emitNode(b, s) {
				return false
			}
		}
		b.WriteString(")")
	case rAlt:
		b.WriteString("(?:")
		for i, s := range n.subs {
			if i > 0 {
				b.WriteByte('|')
			}
			if !emitNode(b, s) {
				return false
			}
		}
		b.WriteString(")")
	case rRepeat:
		if n.possessive || n.min > 1000 || n.max > 1000 {
			return false
		}
		b.WriteString("(?:")
		if !emitNode(b, n.subs[0]) {
			return false
		}
		b.WriteString(")")
		switch {
		case n.max < 0:
			fmt.Fprintf(b, "{%d,}", n.min)
		default:
			fmt.Fprintf(b, "{%d,%d}", n.min, n.max)
		}
		if !n.greedy {
			b.WriteByte('?')
		}
	case rAssert:
		switch n.assert {
		case aBOL:
			b.WriteString("(?m:^)")
		case aEOL:
			b.WriteString("(?m:$)")
		case aBOS:
			b.WriteString(`\A`)
		case aEOS:
			b.WriteString(`\z`)
		default:
			return false // \Z, \b and \B differ from RE2's (ASCII) definitions
		}
	default:
		return false
	}
	return true
}

// ---- backtracking matcher ----

func checkLookbehinds(n *rnode) error {
	if n.kind == rLook && !n.ahead {
		if _, _, ok := widthRange(n.subs[0]); !ok {
			return errors.New("invalid pattern in look-behind")
		}
	}
	for _, s := range n.subs {
		if err := checkLookbehinds(s); err != nil {
			return err
		}
	}
	return nil
}

// widthRange is the range of char counts a node can match; ok is false when unbounded.
func widthRange(n *rnode) (int, int, bool) {
	switch n.kind {
	case rLit, rClass, rAny:
		return 1, 1, true
	case rAssert, rLook, rEmpty:
		return 0, 0, true
	case rAtomic:
		return widthRange(n.subs[0])
	case rConcat:
		lo, hi := 0, 0
		for _, s := range n.subs {
			a, b, ok := widthRange(s)
			if !ok {
				return 0, 0, false
			}
			lo, hi = lo+a, hi+b
		}
		return lo, hi, true
	case rAlt:
		lo, hi := -1, 0
		for _, s := range n.subs {
			a, b, ok := widthRange(s)
			if !ok {
				return 0, 0, false
			}
			if lo < 0 || a < lo {
				lo = a
			}
			hi = max(hi, b)
		}
		return max(lo, 0), hi, true
	case rRepeat:
		if n.max < 0 {
			return 0, 0, false
		}
		a, b, ok := widthRange(n.subs[0])
		if !ok || b*n.max > 1000 {
			return 0, 0, false
		}
		return a * n.min, b * n.max, true
	}
	return 0, 0, false
}

type bt struct {
	s     string
	steps int
	limit int
	err   error
}

func isWordRune(r rune) bool { return onigWord.has(r) }

func (m *bt) assert(k assertKind, i int) bool {
	s := m.s
	switch k {
	case aBOL:
		return i == 0 || s[i-1] == '\n'
	case aEOL:
		return i == len(s) || s[i] == '\n'
	case aBOS:
		return i == 0
	case aEOS:
		return i == len(s)
	case aEOSNL:
		return i == len(s) || (i == len(s)-1 && s[i] == '\n')
	}
	before, after := false, false
	if i > 0 {
		r, _ := utf8.DecodeLastRuneInString(s[:i])
		before = isWordRune(r)
	}
	if i < len(s) {
		r, _ := utf8.DecodeRuneInString(s[i:])
		after = isWordRune(r)
	}
	if k == aWordB {
		return before != after
	}
	return before == after
}

func foldEq(a, b rune) bool {
	if a == b {
		return true
	}
	for f := unicode.SimpleFold(a); f != a; f = unicode.SimpleFold(f) {
		if f == b {
			return true
		}
	}
	return false
}

func (m *bt) match(n *rnode, i int, k func(int) bool) bool {
	m.steps++
	if m.steps > m.limit {
		m.err = errRegexBudget
		return false
	}
	if m.err != nil {
		return false
	}
	switch n.kind {
	case rEmpty:
		return k(i)
	case rLit:
		if i >= len(m.s) {
			return false
		}
		r, sz := utf8.DecodeRuneInString(m.s[i:])
		if r == n.r || (n.fold && foldEq(r, n.r)) {
			return k(i + sz)
		}
		return false
	case rClass:
		if i >= len(m.s) {
			return false
		}
		r, sz := utf8.DecodeRuneInString(m.s[i:])
		if n.cls.has(r) {
			return k(i + sz)
		}
		return false
	case rAny:
		if i >= len(m.s) {
			return false
		}
		r, sz := utf8.DecodeRuneInString(m.s[i:])
		if r == '\n' && !n.dotall {
			return false
		}
		return k(i + sz)
	case rAssert:
		if m.assert(n.assert, i) {
			return k(i)
		}
		return false
	case rConcat:
		return m.seq(n.subs, i, k)
	case rAlt:
		for _, s := range n.subs {
			if m.match(s, i, k) {
				return true
			}
			if m.err != nil {
				return false
			}
		}
		return false
	case rAtomic:
		end := -1
		m.match(n.subs[0], i, func(j int) bool { end = j; return true })
		if end < 0 {
			return false
		}
		return k(end)
	case rLook:
		ok := false
		if n.ahead {
			ok = m.match(n.subs[0], i, func(int) bool { return true })
		} else {
			lo, hi, _ := widthRange(n.subs[0])
			for w := lo; w <= hi && !ok; w++ {
				st := i
				for c := 0; c < w && st > 0; c++ {
					_, sz := utf8.DecodeLastRuneInString(m.s[:st])
					st -= sz
				}
				if utf8.RuneCountInString(m.s[st:i]) != w {
					continue
				}
				ok = m.match(n.subs[0], st, func(j int) bool { return j == i })
			}
		}
		if m.err != nil {
			return false
		}
		if ok != n.neg {
			return k(i)
		}
		return false
	case rRepeat:
		if n.possessive {
			end, count := i, 0
			for n.max < 0 || count < n.max {
				next := -1
				m.match(n.subs[0], end, func(j int) bool { next = j; return true })
				if next < 0 || next == end {
					break
				}
				end = next
				count++
			}
			if count < n.min {
				return false
			}
			return k(end)
		}
		return m.rep(n, 0, i, k)
	}
	return false
}

func (m *bt) seq(subs []*rnode, i int, k func(int) bool) bool {
	if len(subs) == 0 {
		return k(i)
	}
	return m.match(subs[0], i, func(j int) bool { return m.seq(subs[1:], j, k) })
}

func (m *bt) rep(n *rnode, count, i int, k func(int) bool) bool {
	canMore := n.max < 0 || count < n.max
	more := func() bool {
		return m.match(n.subs[0], i, func(j int) bool {
			if j == i && count >= n.min {
				return false // an empty iteration ends the loop
			}
			return m.rep(n, count+1, j, k)
		})
	}
	if n.greedy {
		if canMore && more() {
			return true
		}
		if m.err != nil {
			return false
		}
		return count >= n.min && k(i)
	}
	if count >= n.min && k(i) {
		return true
	}
	if m.err != nil {
		return false
	}
	return canMore && more()
}

// findAll calls f for every match, as the onig crate's find_iter does: matches do not
// overlap and an empty match right after the previous match is skipped.
func (re *regex) findAll(s string, f func(s, e int)) error {
	if re.re != nil {
		for _, m := range re.re.FindAllStringIndex(s, -1) {
			f(m[0], m[1])
		}
		return nil
	}
	m := &bt{s: s, limit: regexStepBudget * (len(s) + 16)}
	lastEnd, lastMatch := 0, -1
	for lastEnd <= len(s) {
		st, e := -1, -1
		for pos := lastEnd; pos <= len(s); {
			end := -1
			if m.match(re.root, pos, func(j int) bool { end = j; return true }) {
				st, e = pos, end
				break
			}
			if m.err != nil {
				return m.err
			}
			if pos == len(s) {
				break
			}
			_, sz := utf8.DecodeRuneInString(s[pos:])
			pos += sz
		}
		if st < 0 {
			break
		}
		if e == st && lastMatch == e {
			if lastEnd >= len(s) {
				break
			}
			_, sz := utf8.DecodeRuneInString(s[lastEnd:])
			lastEnd += sz
			continue
		}
		lastEnd, lastMatch = e, e
		f(st, e)
	}
	return nil
}
