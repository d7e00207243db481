package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/optiformer/optiformer/internal/fsutil"
	"github.com/optiformer/optiformer/tokenizer"
	"github.com/optiformer/optiformer/tokenizer/load"
	"github.com/optiformer/optiformer/tokenizer/train"
)

// maxInputLine bounds one input line of `tokenize`, so that a file without line breaks
// gives an error instead of filling memory.
const maxInputLine = 64 << 20

func newTokenize() *cobra.Command {
	var path, side, offsets string
	var inputJSONL, asJSON, noSpecial, decode bool
	cmd := &cobra.Command{
		Use:   "tokenize [FILE…]",
		Short: "Encode text with a tokenizer.json or SentencePiece model: ids, tokens and offsets (stdin or files, one text per line)",
		Long: `Encode each input line (each JSON string with --input-jsonl, so texts may hold newlines)
with a Hugging Face tokenizer.json, a SentencePiece .model/.spm file, or a directory holding
either or a Marian vocab.json + source.spm/target.spm pair. Reads the files given, or stdin.

Plain output is three lines per input (ids, tokens, offsets start:end) and a blank line;
--json prints one object per input: {"ids":[…],"tokens":[…],"offsets":[[start,end],…]}.
Offsets count Unicode code points unless --offsets bytes (UTF-8 bytes); special tokens
added by the tokenizer get [0,0].

With --decode it goes the other way: each input line is a JSON array of ids (or an object
with an "ids" array, as --json prints) and the output is the decoded text, one line each
(a JSON string with --json); --no-special leaves special tokens out of the text.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if offsets != "chars" && offsets != "bytes" {
				return fmt.Errorf("tokenize: --offsets %q: want chars or bytes", offsets)
			}
			tk, err := load.Open(path, side)
			if err != nil {
				return err
			}
			w := bufio.NewWriter(cmd.OutOrStdout())
			defer w.Flush()
			each := func(name string, r io.Reader) error {
				if decode {
					return decodeLines(name, r, w, tk, noSpecial, asJSON)
				}
				return readTexts(name, r, inputJSONL, func(text string) error {
					e, err := tk.Encode(text, !noSpecial)
					if err != nil {
						return err
					}
					offs := e.Offsets
					if offsets == "chars" {
						offs = tokenizer.CharOffsets(text, offs)
					}
					return writeEncoding(w, e, offs, asJSON)
				})
			}
			if len(args) == 0 {
				return each("stdin", cmd.InOrStdin())
			}
			for _, a := range args {
				f, err := os.Open(a)
				if err != nil {
					return err
				}
				err = each(a, f)
				f.Close()
				if err != nil {
					return err
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&path, "tokenizer", "", "tokenizer.json, .model/.spm file, or a directory holding one")
	cmd.Flags().StringVar(&side, "side", "", "for a Marian directory: source (default) or target")
	cmd.Flags().BoolVar(&inputJSONL, "input-jsonl", false, "each input line is a JSON string")
	cmd.Flags().BoolVar(&asJSON, "json", false, `print one JSON object per input: {"ids":[…],"tokens":[…],"offsets":[[s,e],…]}`)
	cmd.Flags().StringVar(&offsets, "offsets", "chars", "offset unit: chars (Unicode code points) or bytes (UTF-8)")
	cmd.Flags().BoolVar(&noSpecial, "no-special", false, "leave out the special tokens the tokenizer adds ([CLS], </s>, …)")
	cmd.Flags().BoolVar(&decode, "decode", false, "decode: input lines are JSON arrays of ids (or {\"ids\":[…]}), output is text")
	cmd.MarkFlagRequired("tokenizer")
	return cmd
}

// readTexts calls f for each text of r: each line (its line end removed), or with jsonl each
// line decoded as a JSON string. Empty lines are texts too, except in JSONL input.
func readTexts(name string, r io.Reader, jsonl bool, f func(string) error) error {
	br := bufio.NewReaderSize(r, 1<<16)
	for n := 1; ; n++ {
		line, err := readLine(br)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s:%d: %w", name, n, err)
		}
		text := line
		if jsonl {
			if strings.TrimSpace(line) == "" {
				continue
			}
			if err := json.Unmarshal([]byte(line), &text); err != nil {
				return fmt.Errorf("%s:%d: want a JSON string: %v", name, n, err)
			}
		}
		if err := f(text); err != nil {
			return fmt.Errorf("%s:%d: %w", name, n, err)
		}
	}
}

// decodeLines decodes each line of r, a JSON array of ids or an object with "ids", to text.
func decodeLines(name string, r io.Reader, w *bufio.Writer, tk tokenizer.Tokenizer, skipSpecial, asJSON bool) error {
	br := bufio.NewReaderSize(r, 1<<16)
	for n := 1; ; n++ {
		line, err := readLine(br)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s:%d: %w", name, n, err)
		}
		var ids []int
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "{") {
			var obj struct {
				IDs *[]int `json:"ids"`
			}
			if err := json.Unmarshal([]byte(trimmed), &obj); err != nil || obj.IDs == nil {
				return fmt.Errorf("%s:%d: want a JSON array of ids or an object with \"ids\" (%v)", name, n, err)
			}
			ids = *obj.IDs
		} else if err := json.Unmarshal([]byte(trimmed), &ids); err != nil {
			return fmt.Errorf("%s:%d: want a JSON array of ids or an object with \"ids\" (%v)", name, n, err)
		}
		if v := tk.VocabSize(); slices.ContainsFunc(ids, func(id int) bool { return id < 0 || id >= v }) {
			return fmt.Errorf("%s:%d: an id outside the vocabulary [0, %d)", name, n, v)
		}
		text, err := tk.Decode(ids, skipSpecial)
		if err != nil {
			return fmt.Errorf("%s:%d: %w", name, n, err)
		}
		if asJSON {
			enc := json.NewEncoder(w)
			enc.SetEscapeHTML(false)
			if err := enc.Encode(text); err != nil {
				return err
			}
			continue
		}
		if strings.ContainsAny(text, "\n\r") {
			return fmt.Errorf("%s:%d: the decoded text holds a line break; use --json", name, n)
		}
		w.WriteString(text)
		w.WriteByte('\n')
	}
}

// readLine returns the next line without its "\n" or "\r\n", io.EOF after the last one.
func readLine(br *bufio.Reader) (string, error) {
	var sb strings.Builder
	for {
		chunk, err := br.ReadSlice('\n')
		sb.Write(chunk)
		if sb.Len() > maxInputLine {
			return "", fmt.Errorf("line longer than %d MiB", maxInputLine>>20)
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err == io.EOF && sb.Len() > 0 {
			err = nil
		}
		if err != nil {
			return "", err
		}
		s := strings.TrimSuffix(sb.String(), "\n")
		return strings.TrimSuffix(s, "\r"), nil
	}
}

func writeEncoding(w *bufio.Writer, e *tokenizer.Encoding, offs [][2]int, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false) // "</s>", not "\u003c/s\u003e"
		return enc.Encode(struct {
			IDs     []int    `json:"ids"`
			Tokens  []string `json:"tokens"`
			Offsets [][2]int `json:"offsets"`
		}{nonNil(e.IDs), nonNil(e.Tokens), nonNil(offs)})
	}
	w.WriteString("ids    ")
	for _, id := range e.IDs {
		w.WriteByte(' ')
		w.WriteString(strconv.Itoa(id))
	}
	w.WriteString("\ntokens ")
	for _, t := range e.Tokens {
		w.WriteByte(' ')
		if t == "" || strings.ContainsFunc(t, func(r rune) bool { return r <= ' ' || r == '"' }) {
			t = strconv.Quote(t)
		}
		w.WriteString(t)
	}
	w.WriteString("\noffsets")
	for _, o := range offs {
		fmt.Fprintf(w, " %d:%d", o[0], o[1])
	}
	_, err := w.WriteString("\n\n")
	return err
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func newTokenizerCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "tokenizer",
		Short: "Tokenizer tools: train a tokenizer on a corpus",
	}
	cmd.AddCommand(newTokenizerTrain())
	return cmd
}

func newTokenizerTrain() *cobra.Command {
	var model, out, specials, unk string
	var vocab, minFreq, threads int
	var lowercase, prefixSpace, byteFallback, inputJSONL bool
	cmd := &cobra.Command{
		Use:   "train --model bpe|char-bpe|unigram --vocab-size N --output tokenizer.json FILE…",
		Short: "Train a byte-level BPE, character BPE or Unigram tokenizer on text files (one text per line) and write a Hugging Face tokenizer.json",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var texts []string
			for _, a := range args {
				f, err := os.Open(a)
				if err != nil {
					return err
				}
				err = readTexts(a, f, inputJSONL, func(s string) error { texts = append(texts, s); return nil })
				f.Close()
				if err != nil {
					return err
				}
			}
			var sp []string
			if specials != "" {
				sp = strings.Split(specials, ",")
			}
			corpus := slices.Values(texts)
			var js []byte
			var err error
			switch model {
			case "bpe", "byte-bpe":
				js, err = train.ByteLevelBPE(corpus, train.ByteLevelOptions{VocabSize: vocab, MinFrequency: minFreq,
					SpecialTokens: sp, AddPrefixSpace: prefixSpace, Lowercase: lowercase, Threads: threads})
			case "char-bpe":
				js, err = train.CharBPE(corpus, train.CharBPEOptions{VocabSize: vocab, MinFrequency: minFreq,
					SpecialTokens: sp, UnkToken: unk, Lowercase: lowercase, Threads: threads})
			case "unigram":
				js, err = train.Unigram(corpus, train.UnigramOptions{VocabSize: vocab, SpecialTokens: sp, UnkToken: unk,
					Lowercase: lowercase, ByteFallback: byteFallback, Threads: threads})
			default:
				return fmt.Errorf("tokenizer train: --model %q: want bpe, char-bpe or unigram", model)
			}
			if err != nil {
				return err
			}
			if out == "" || out == "-" {
				_, err := cmd.OutOrStdout().Write(js)
				return err
			}
			if err := fsutil.WriteFile(out, js, 0o644); err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "tokenizer train: %d texts → %s\n", len(texts), out)
			return nil
		},
	}
	cmd.Flags().StringVar(&model, "model", "bpe", "bpe (byte-level, GPT-2 style), char-bpe (with </w>) or unigram (SentencePiece style)")
	cmd.Flags().IntVar(&vocab, "vocab-size", 8000, "vocabulary size, special tokens included")
	cmd.Flags().StringVar(&out, "output", "tokenizer.json", "file to write (- for stdout)")
	cmd.Flags().StringVar(&specials, "special-tokens", "<pad>,<s>,</s>,<unk>", "comma-separated special tokens, given the first ids in this order")
	cmd.Flags().StringVar(&unk, "unk", "<unk>", "unknown token (char-bpe, unigram)")
	cmd.Flags().IntVar(&minFreq, "min-frequency", 2, "BPE: do not merge pairs seen fewer times")
	cmd.Flags().BoolVar(&lowercase, "lowercase", false, "lowercase the text")
	cmd.Flags().BoolVar(&prefixSpace, "add-prefix-space", false, "bpe: add a space before each text")
	cmd.Flags().BoolVar(&byteFallback, "byte-fallback", false, "unigram: encode unknown chars as <0xNN> byte pieces")
	cmd.Flags().BoolVar(&inputJSONL, "input-jsonl", false, "each input line is a JSON string")
	cmd.Flags().IntVar(&threads, "threads", 0, "threads (default: all)")
	return cmd
}
