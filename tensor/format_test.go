package tensor

import (
	"fmt"
	"math"
	"strings"
	"testing"
)

func TestString(t *testing.T) {
	x := Arange(F32, 6).View(2, 3)
	cases := []struct {
		got, want string
	}{
		{x.String(), "float32[2 3] [[0 1 2] [3 4 5]]"},
		{x.Transpose(0, 1).String(), "float32[3 2] [[0 3] [1 4] [2 5]]"},
		{fmt.Sprint(x.Slice(1, 1, 2)), "float32[2 1] [[1] [4]]"},
		{fmt.Sprintf("%v", FromF64([]float64{0.1, math.NaN(), math.Inf(-1)}, 3)), "float64[3] [0.1 NaN -Inf]"},
		{FromF32([]float32{0.1}, 1).String(), "float32[1] [0.1]"},
		{FromI32([]int32{-5}).String(), "int32[] -5"},
		{FromI8([]int8{-128, 127}, 1, 2).String(), "int8[1 2] [[-128 127]]"},
		{New(F32, 2, 0).String(), "float32[2 0] [[] []]"},
		{fmt.Sprintf("%+v", x.Transpose(0, 1).Slice(0, 1, 3)), "float32[2 2] [[1 4] [2 5]] (strides [1 3], offset 1)"},
		{fmt.Sprintf("%s", x), "float32[2 3] [[0 1 2] [3 4 5]]"},
		{fmt.Sprintf("%d", x.Slice(0, 0, 1)), "%!d(*tensor.Tensor=float32[1 3] [[0 1 2]])"},
		{fmt.Sprint((*Tensor)(nil)), "<nil>"},
		{Arange(I32, 100).String(), "int32[100] [0 1 2 … 97 98 99]"},
		{Arange(I32, 64).View(8, 8).String()[:30], "int32[8 8] [[0 1 2 3 4 5 6 7] "},
	}
	for _, c := range cases {
		if c.got != c.want {
			t.Errorf("got %q\nwant %q", c.got, c.want)
		}
	}
	big := Arange(F32, 1000).View(10, 100).String()
	if !strings.HasPrefix(big, "float32[10 100] [[0 1 2 … 97 98 99] [100 101 102 … 197 198 199] [200 201 202 … 297 298 299] … [700") ||
		len(big) > 400 {
		t.Errorf("summary of a large tensor: %q", big)
	}
}
