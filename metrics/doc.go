// Package metrics computes the text-generation and QA metrics that papers report, reproducing
// the reference implementations exactly rather than approximating them: the same statistics,
// the same floating-point operations in the same order, and so the same values (ROUGE and SQuAD
// bit for bit; BLEU to the last bit or two, because Go's math.Log and math.Exp may differ from
// the C library's by one ulp; chrF bit for bit):
//
//   - BLEU and chrF / chrF++ as sacreBLEU 2.6.0 computes them (corpus and sentence level,
//     multiple references, tokenizers "13a", "intl" and "none", smoothing floor / add-k / exp /
//     none), with sacreBLEU's signature and printed score line;
//   - ROUGE-N, ROUGE-L and summary-level ROUGE-Lsum as Google's rouge-score 0.1.2 computes them,
//     including its tokenizer and NLTK's Porter stemmer;
//   - SQuAD v1.1 exact match and F1 as the official evaluate-v1.1.py computes them.
//
// Python's string semantics matter for exactness, so the package mirrors them where the
// reference code relies on them: str.lower() (full Unicode mapping, final sigma, İ → i̇),
// str.split()/strip() (Python's whitespace set, which adds U+001C..U+001F to Go's), and
// re's Unicode \w and \b. Strings are processed as Unicode code points; invalid UTF-8 bytes are
// read as U+FFFD.
//
// The package is standard library only and imports nothing else of this module. Errors from
// user input are returned, prefixed "metrics: "; no input text makes it panic.
package metrics
