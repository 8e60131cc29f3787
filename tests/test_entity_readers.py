import json

import pytest

from conftest import shared_data
from tfllm.data.entity_readers import Entity, entities_from_tags, read_cluener, read_conll, read_entity_examples
from tfllm.data.examples import DataError

CONLL = """-DOCSTART- -X- -X- O

EU NNP B-NP B-ORG
rejects VBZ B-VP O
German JJ B-NP B-MISC
call NN I-NP O
. . O O

Peter NNP B-NP B-PER
Blackburn NNP I-NP I-PER
"""


def test_conll_sentences_become_texts_with_character_spans(tmp_path):
    path = tmp_path / "train.txt"
    path.write_text(CONLL)
    examples = read_conll(str(path)).examples
    assert [e.text for e in examples] == ["EU rejects German call .", "Peter Blackburn"]
    assert examples[0].entities == (Entity(0, 2, "ORG"), Entity(11, 17, "MISC"))
    assert examples[1].entities == (Entity(0, 15, "PER"),)
    assert [e.source for e in examples] == [f"{path}:3", f"{path}:9"]


@pytest.mark.parametrize("tags, spans", [
    (["B-PER", "I-PER", "O", "B-LOC"], [(0, 2, "PER"), (3, 4, "LOC")]),  # IOB2
    (["I-PER", "I-PER", "B-PER", "O"], [(0, 2, "PER"), (2, 3, "PER")]),  # IOB1: B- only between same-type entities
    (["S-LOC", "B-ORG", "I-ORG", "E-ORG", "E-ORG"], [(0, 1, "LOC"), (1, 4, "ORG"), (4, 5, "ORG")]),  # BIOES
    (["B-PER", "I-LOC", "O"], [(0, 1, "PER"), (1, 2, "LOC")]),  # a type change starts a new entity
    (["B-ORG", "M-ORG", "M-ORG", "E-ORG", "S-LOC"], [(0, 4, "ORG"), (4, 5, "LOC")]),  # BMES, as Chinese corpora
])
def test_tags_are_read_as_conlleval_reads_them(tags, spans):
    assert entities_from_tags(tags) == spans


def test_malformed_conll_lines_name_file_line_and_field(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_text("EU B-ORG\nrejects\n\nPeter X-PER\n\nfine O\n")
    with pytest.raises(DataError) as error:
        read_conll(str(path))
    message = str(error.value)
    assert f"{path}:2: field 'columns'" in message and f"{path}:4: field 'tag'" in message
    result = read_conll(str(path), on_bad_rows="skip")
    assert [e.text for e in result.examples] == ["fine"] and len(result.bad_rows) == 2  # whole sentences, counted


def test_cluener_spans_are_checked_against_their_mentions(tmp_path):
    path = tmp_path / "ner.json"
    records = [
        {"text": "浙商银行企业信贷部叶老桂博士", "label": {"name": {"叶老桂": [[9, 11]]}, "company": {"浙商银行": [[0, 3]]}}},
        {"text": "no entities here"},
        {"text": "生生不息CSOL", "label": {"game": {"CSOL": [[4, 6]]}}},  # end off by one
        {"text": "《招商银行》", "label": {"book": {"《招商银行》": [[0, 5]]}, "company": {"招商银行": [[1, 4]]}}},
        {"text": ""},
        {"text": "叶老桂博士", "label": {"name": [[0, 2]]}},  # spans without their mention
    ]
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n{broken\n", encoding="utf-8")
    result = read_cluener(str(path), on_bad_rows="skip")
    assert result.examples[0].entities == (Entity(0, 4, "company"), Entity(9, 12, "name"))
    assert result.examples[1].entities == ()
    reasons = {row.line: (row.field, row.reason) for row in result.bad_rows}
    assert reasons[3][0] == "label" and "'CSO', not the mention 'CSOL'" in reasons[3][1]
    assert reasons[4][0] == "label" and "overlap" in reasons[4][1]
    assert reasons[5][0] == "text" and "invalid JSON" in reasons[7][1]
    assert reasons[6] == ("label", "name: expected {mention: [[start, end], ...]}, got list")
    with pytest.raises(DataError):
        read_entity_examples(str(path))


@pytest.mark.parametrize("name, sentences, entities", [
    ("conll2003/train.txt", 14041, 23499), ("conll2003/test.txt", 3453, 5648), ("cluener2020/dev.json", 1343, 3072)])
def test_shared_ner_data_reads_whole(name, sentences, entities):
    examples = read_entity_examples(shared_data(*name.split("/"))).examples
    assert (len(examples), sum(len(e.entities) for e in examples)) == (sentences, entities)
    assert all(e.text[x.start:x.end].strip() == e.text[x.start:x.end] for e in examples for x in e.entities)
