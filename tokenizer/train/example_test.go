package train_test

import (
	"fmt"
	"slices"

	"github.com/optiformer/optiformer/tokenizer/hf"
	"github.com/optiformer/optiformer/tokenizer/train"
)

func ExampleByteLevelBPE() {
	corpus := []string{
		"A man is riding a bicycle.",
		"A woman is riding a horse.",
		"Two men are riding bicycles down the road.",
	}
	js, err := train.ByteLevelBPE(slices.Values(corpus), train.ByteLevelOptions{
		VocabSize:     300,
		SpecialTokens: []string{"<pad>", "<s>", "</s>", "<unk>"},
	})
	if err != nil {
		panic(err)
	}
	tk, err := hf.Parse(js) // or write js to tokenizer.json
	if err != nil {
		panic(err)
	}
	enc, _ := tk.Encode("A man is riding a horse.", false)
	fmt.Println(enc.Tokens)
	text, _ := tk.Decode(enc.IDs, false)
	fmt.Println(text)
	// Output:
	// [A Ġman Ġis Ġriding Ġa Ġho rs e .]
	// A man is riding a horse.
}
