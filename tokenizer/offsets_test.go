package tokenizer

import (
	"reflect"
	"testing"
)

func TestCharOffsets(t *testing.T) {
	text := "aé中😀b" // bytes: a 0, é 1-2, 中 3-5, 😀 6-9, b 10
	got := CharOffsets(text, [][2]int{{0, 1}, {1, 3}, {3, 6}, {6, 10}, {10, 11}, {0, 11}, {0, 0}, {2, 4}, {11, 11}, {12, 13}})
	want := [][2]int{{0, 1}, {1, 2}, {2, 3}, {3, 4}, {4, 5}, {0, 5}, {0, 0}, {1, 2}, {5, 5}, {12, 13}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if got := CharOffsets("", [][2]int{{0, 0}}); !reflect.DeepEqual(got, [][2]int{{0, 0}}) {
		t.Errorf("empty text: %v", got)
	}
}
