package tensor

import (
	"fmt"
	"strconv"
	"strings"
)

// summarizeAbove is the element count above which String elides the middle of long
// dimensions, and edgeItems how many leading and trailing entries it then keeps (NumPy's
// threshold and edgeitems, scaled down for test messages).
const (
	summarizeAbove = 64
	edgeItems      = 3
)

// String formats the dtype, shape and values, e.g. "float32[2 3] [[1 2 3] [4 5 6]]" or
// "int32[] 7" for a scalar. Floats use the shortest representation that reads back exactly.
// Above 64 elements, dimensions longer than 6 show their first and last 3 entries around
// "…". A nil tensor prints "<nil>".
func (t *Tensor) String() string {
	if t == nil {
		return "<nil>"
	}
	var b strings.Builder
	t.header(&b)
	b.WriteByte(' ')
	idx := make([]int, len(t.shape))
	t.values(&b, idx, 0, t.Len() > summarizeAbove)
	return b.String()
}

// Format implements fmt.Formatter: %v and %s print String; %+v adds the strides and offset,
// which helps when debugging views.
func (t *Tensor) Format(f fmt.State, verb rune) {
	switch verb {
	case 'v', 's':
		s := t.String()
		if verb == 'v' && f.Flag('+') && t != nil {
			s += fmt.Sprintf(" (strides %v, offset %d)", t.strides, t.offset)
		}
		fmt.Fprint(f, s)
	default:
		fmt.Fprintf(f, "%%!%c(*tensor.Tensor=%s)", verb, t.String())
	}
}

func (t *Tensor) header(b *strings.Builder) {
	b.WriteString(t.dtype.String())
	b.WriteString(strings.ReplaceAll(fmt.Sprint(t.shape), ",", ""))
}

func (t *Tensor) values(b *strings.Builder, idx []int, d int, summarize bool) {
	if d == len(t.shape) {
		b.WriteString(t.formatElem(t.index("String", idx)))
		return
	}
	n := t.shape[d]
	b.WriteByte('[')
	for i := 0; i < n; i++ {
		if summarize && n > 2*edgeItems && i == edgeItems {
			b.WriteString(" …")
			i = n - edgeItems
		}
		if i > 0 {
			b.WriteByte(' ')
		}
		idx[d] = i
		t.values(b, idx, d+1, summarize)
	}
	b.WriteByte(']')
}

func (t *Tensor) formatElem(p int) string {
	switch t.dtype {
	case F32:
		return strconv.FormatFloat(float64(t.f32[p]), 'g', -1, 32)
	case F64:
		return strconv.FormatFloat(t.f64[p], 'g', -1, 64)
	case I32:
		return strconv.Itoa(int(t.i32[p]))
	case I8:
		return strconv.Itoa(int(t.i8[p]))
	}
	return "?"
}
