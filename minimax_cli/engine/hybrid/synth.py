"""Random small checkpoints of the MiniMax hybrid architecture.

`write_synth_checkpoint` writes a directory that loads exactly like a published MiniMax-Text-01 /
MiniMax-M1 checkpoint: the remote-code `config.json` (or the native `-hf` one), sharded bf16
safetensors under the original tensor names with their index, and a byte-level BPE tokenizer with
the MiniMax special tokens and chat template. The weights are random but scaled so that a forward
pass gives peaked, finite next-token distributions. Tests and `minimax models synth` use it; the
output is a pure function of (preset, overrides, seed, fmt, shards, dtype).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file
from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, processors, trainers

# --- special tokens -------------------------------------------------------------------------------

BOS_TOKEN = "<beginning_of_sentence>"
EOS_TOKEN = "<end_of_sentence>"  # the runtime stops on it (200020 in the real vocabulary)
UNK_TOKEN = "<end_of_document>"
BOD_TOKEN = "<begin_of_document>"  # the chat template's first token

# Appended after the BPE vocabulary in this order, so eos directly follows bos as in the real
# vocabulary (200019 / 200020) and is the last id.
SPECIAL_TOKENS = (UNK_TOKEN, BOD_TOKEN, BOS_TOKEN, EOS_TOKEN)

CHAT_TEMPLATE_PATH = Path(__file__).with_name("chat_template.jinja")

# --- presets --------------------------------------------------------------------------------------


def _minimax_layout(num_layers: int) -> list[int]:
    """attn_type_list of the real model: softmax (1) at every 8th layer, index 7, 15, ..."""
    return [1 if i % 8 == 7 else 0 for i in range(num_layers)]


def _alternating_layout(num_layers: int) -> list[int]:
    """transformers' MiniMaxConfig default: layer 0 softmax, then alternating."""
    return [1 if i % 2 == 0 else 0 for i in range(num_layers)]


# Fields in the original (remote-code) names. `vocab_size` is the tokenizer's size including the
# special tokens; config.json carries it padded to a multiple of 64.
SYNTH_PRESETS: dict[str, dict[str, Any]] = {
    "tiny": {
        "hidden_size": 64,
        "num_hidden_layers": 8,
        "attn_type_list": _minimax_layout(8),
        "num_attention_heads": 4,
        "head_dim": 16,
        "num_key_value_heads": 2,
        "rotary_dim": 8,  # half the head, like the real 64 of 128
        "rope_theta": 10_000_000,
        "num_local_experts": 4,
        "num_experts_per_tok": 2,
        "intermediate_size": 96,
        "vocab_size": 512,
        "max_position_embeddings": 1_000_000,
    },
}
SYNTH_PRESETS["tiny-hf-layout"] = {**SYNTH_PRESETS["tiny"], "attn_type_list": _alternating_layout(8)}
SYNTH_PRESETS["small"] = {
    **SYNTH_PRESETS["tiny"],
    "hidden_size": 256,
    "num_attention_heads": 8,
    "head_dim": 32,
    "num_key_value_heads": 2,
    "rotary_dim": 16,
    "num_local_experts": 8,
    "intermediate_size": 512,
    "vocab_size": 2048,
}

# Native (-hf) names of the original fields that differ; used both ways.
_HF_FACTOR_NAMES = {
    "layernorm_full_attention_alpha": "full_attn_alpha_factor",
    "layernorm_full_attention_beta": "full_attn_beta_factor",
    "layernorm_linear_attention_alpha": "linear_attn_alpha_factor",
    "layernorm_linear_attention_beta": "linear_attn_beta_factor",
    "layernorm_mlp_alpha": "mlp_alpha_factor",
    "layernorm_mlp_beta": "mlp_beta_factor",
}
_LAYER_TYPES = {0: "linear_attention", 1: "full_attention"}

# --- config ---------------------------------------------------------------------------------------


def synth_config(preset: str = "tiny", overrides: dict | None = None, *, dtype: str = "bfloat16") -> dict[str, Any]:
    """The original-format (remote-code) config.json dict for a preset with overrides applied."""
    fields = _resolve_fields(preset, overrides)
    return {
        "architectures": ["MiniMaxText01ForCausalLM"],
        "auto_map": {
            "AutoConfig": "configuration_minimax_text_01.MiniMaxText01Config",
            "AutoModelForCausalLM": "modeling_minimax_text_01.MiniMaxText01ForCausalLM",
        },
        "model_type": "minimax_text_01",
        "attention_dropout": 0.0,
        "bos_token_id": None,  # null in the real configs; the runtime knows eos by name
        "eos_token_id": None,
        "hidden_act": "silu",
        "initializer_range": 0.02,
        "postnorm": True,
        "rms_norm_eps": 1e-5,
        "router_aux_loss_coef": 0.001,
        "router_jitter_noise": 0.0,
        "shared_intermediate_size": 0,
        "shared_moe_mode": "sigmoid",
        "sliding_window": None,
        "tie_word_embeddings": False,
        "torch_dtype": dtype,
        "transformers_version": "4.45.2",
        "use_cache": True,
        **fields,
        # Padded like the real 200064; the tokenizer has `fields["vocab_size"]` tokens at most.
        "vocab_size": _round_up(fields["vocab_size"], 64),
    }


def _resolve_fields(preset: str, overrides: dict | None) -> dict[str, Any]:
    """Preset fields with overrides applied, derived fields filled in, validated.

    Overrides may use original or native names (`layer_types`, `*_factor`). If only one of
    `num_hidden_layers` / `attn_type_list` is given, the other follows: the layer count from the
    list, or the preset's pattern repeated to the new count. DeepNorm alphas follow the layer
    count unless given. `vocab_size` stays the tokenizer's size here.
    """
    if preset not in SYNTH_PRESETS:
        raise ValueError(f"unknown synth preset {preset!r}; choose from {sorted(SYNTH_PRESETS)}")
    base = dict(SYNTH_PRESETS[preset])
    changes = _to_original_names(overrides or {})

    if "attn_type_list" in changes and "num_hidden_layers" not in changes:
        changes["num_hidden_layers"] = len(changes["attn_type_list"])
    elif "num_hidden_layers" in changes and "attn_type_list" not in changes:
        pattern = base["attn_type_list"]
        changes["attn_type_list"] = [pattern[i % len(pattern)] for i in range(changes["num_hidden_layers"])]
    fields = {**base, **changes}

    alpha = (2 * fields["num_hidden_layers"]) ** 0.25  # DeepNorm: (2 * 80) ** 0.25 = 3.5565588200778455
    deepnorm = {name: (alpha if name.endswith("alpha") else 1.0) for name in _HF_FACTOR_NAMES}
    fields = {**deepnorm, **fields}
    _validate(fields)
    return fields


def to_hf_config(config: dict[str, Any]) -> dict[str, Any]:
    """The native transformers (-hf) form of an original config: renamed fields, same values."""
    hf = {k: v for k, v in config.items() if k not in ("auto_map", "attn_type_list", "torch_dtype")}
    for original, native in _HF_FACTOR_NAMES.items():
        hf[native] = hf.pop(original)
    hf["architectures"] = ["MiniMaxForCausalLM"]
    hf["model_type"] = "minimax"
    hf["layer_types"] = [_LAYER_TYPES[t] for t in config["attn_type_list"]]
    hf["block_size"] = 256
    hf["dtype"] = config["torch_dtype"]
    hf["transformers_version"] = "4.53.0"  # the release that added MiniMax natively
    return hf


def _to_original_names(overrides: dict) -> dict:
    """Overrides with native names mapped back to the original ones."""
    native_to_original = {v: k for k, v in _HF_FACTOR_NAMES.items()}
    out = {}
    for key, value in overrides.items():
        if key == "layer_types":
            by_name = {v: k for k, v in _LAYER_TYPES.items()}
            out["attn_type_list"] = [by_name.get(t, t) for t in value]  # unknown names fail validation
        else:
            out[native_to_original.get(key, key)] = value
    return out


def _validate(f: dict) -> None:
    """Reject configs the architecture cannot express."""
    problems = []
    if len(f["attn_type_list"]) != f["num_hidden_layers"]:
        problems.append("attn_type_list must have num_hidden_layers entries")
    if any(t not in _LAYER_TYPES for t in f["attn_type_list"]):
        problems.append("attn_type_list entries must be 0 (lightning) or 1 (softmax)")
    if f["num_attention_heads"] % f["num_key_value_heads"]:
        problems.append("num_attention_heads must be a multiple of num_key_value_heads")
    if not (0 < f["rotary_dim"] <= f["head_dim"]) or f["rotary_dim"] % 2:
        problems.append("rotary_dim must be even and within head_dim")
    if not 1 <= f["num_experts_per_tok"] <= f["num_local_experts"]:
        problems.append("num_experts_per_tok must be within num_local_experts")
    if f["vocab_size"] < 256 + len(SPECIAL_TOKENS):
        problems.append(f"vocab_size must be at least {256 + len(SPECIAL_TOKENS)} (bytes + specials)")
    if problems:
        raise ValueError("invalid synth config: " + "; ".join(problems))


def _round_up(n: int, multiple: int) -> int:
    return -(-n // multiple) * multiple


# --- weights --------------------------------------------------------------------------------------

# Std of each kind of tensor. Projections use 1/sqrt(fan_in) so every branch output is O(1). With
# post-norm DeepNorm (x = alpha * norm(x) + beta * f(norm(x))) nothing compounds across layers, and
# branches of the same order as the residual make a wrong attention or MoE visibly change the
# logits in comparisons. The LM head is scaled up so the next-token distribution is peaked.
_NORM_NOISE = 0.05
_EMBED_STD = 1.0
_LM_HEAD_GAIN = 3.0


def weight_shapes(config: dict[str, Any]) -> dict[str, list[tuple[str, tuple[int, ...], float]]]:
    """Tensors per shard unit, in file order: 'embed', 'layer.{i}', 'final'.

    Each entry is (name, shape, std); std 0 marks a norm weight (1 plus noise). Names are the
    original checkpoint keys, shared by both config formats.
    """
    hidden, heads, kv_heads = config["hidden_size"], config["num_attention_heads"], config["num_key_value_heads"]
    d, inter, vocab = config["head_dim"], config["intermediate_size"], config["vocab_size"]

    units: dict[str, list[tuple[str, tuple[int, ...], float]]] = {
        "embed": [("model.embed_tokens.weight", (vocab, hidden), _EMBED_STD)]
    }
    for i, attn_type in enumerate(config["attn_type_list"]):
        p = f"model.layers.{i}."
        tensors = [(p + "input_layernorm.weight", (hidden,), 0.0), (p + "post_attention_layernorm.weight", (hidden,), 0.0)]
        if attn_type == 0:
            # qkv_proj rows are per head [q_h, k_h, v_h]: the model views its output as [..., H, 3*D].
            tensors += [
                (p + "self_attn.qkv_proj.weight", (3 * heads * d, hidden), hidden**-0.5),
                (p + "self_attn.output_gate.weight", (heads * d, hidden), hidden**-0.5),
                (p + "self_attn.out_proj.weight", (hidden, heads * d), (heads * d) ** -0.5),
                (p + "self_attn.norm.weight", (heads * d,), 0.0),
            ]
        else:
            tensors += [
                (p + "self_attn.q_proj.weight", (heads * d, hidden), hidden**-0.5),
                (p + "self_attn.k_proj.weight", (kv_heads * d, hidden), hidden**-0.5),
                (p + "self_attn.v_proj.weight", (kv_heads * d, hidden), hidden**-0.5),
                (p + "self_attn.o_proj.weight", (hidden, heads * d), (heads * d) ** -0.5),
            ]
        moe = p + "block_sparse_moe."
        tensors.append((moe + "gate.weight", (config["num_local_experts"], hidden), hidden**-0.5))
        for e in range(config["num_local_experts"]):
            tensors += [
                (f"{moe}experts.{e}.w1.weight", (inter, hidden), hidden**-0.5),
                (f"{moe}experts.{e}.w3.weight", (inter, hidden), hidden**-0.5),
                (f"{moe}experts.{e}.w2.weight", (hidden, inter), inter**-0.5),
            ]
        units[f"layer.{i}"] = tensors
    units["final"] = [
        ("model.norm.weight", (hidden,), 0.0),
        ("lm_head.weight", (vocab, hidden), _LM_HEAD_GAIN * hidden**-0.5),
    ]
    return units


def _random_tensor(name: str, shape: tuple[int, ...], std: float, seed: int, dtype: torch.dtype) -> torch.Tensor:
    """One tensor from its own generator, so it depends only on (seed, name, shape, dtype).

    Sampled in place in the target dtype: a single serial op per tensor (elementwise ops on
    small tensors spend most of their time waking torch's thread pool).
    """
    digest = hashlib.blake2b(f"{seed}:{name}".encode(), digest_size=8).digest()
    generator = torch.Generator().manual_seed(int.from_bytes(digest, "little") & (2**63 - 1))
    mean, std = (1.0, _NORM_NOISE) if std == 0.0 else (0.0, std)
    return torch.empty(shape, dtype=dtype).normal_(mean, std, generator=generator)


def _shard_plan(num_layers: int, shards: int) -> list[list[str]]:
    """Units per shard: whole layers, contiguous and balanced; embed first, norm and head last."""
    if not 1 <= shards <= num_layers:
        raise ValueError(f"shards must be between 1 and num_hidden_layers ({num_layers}), got {shards}")
    per_shard, extra = divmod(num_layers, shards)
    plan, start = [], 0
    for s in range(shards):
        count = per_shard + (1 if s < extra else 0)
        plan.append([f"layer.{i}" for i in range(start, start + count)])
        start += count
    plan[0].insert(0, "embed")
    plan[-1].append("final")
    return plan


def write_weights(out_dir: Path, config: dict[str, Any], *, seed: int, shards: int, dtype: torch.dtype) -> None:
    """Sharded safetensors plus model.safetensors.index.json."""
    units = weight_shapes(config)
    weight_map: dict[str, str] = {}
    total_size = 0
    plan = _shard_plan(config["num_hidden_layers"], shards)
    for index, unit_names in enumerate(plan, start=1):
        filename = f"model-{index:05d}-of-{len(plan):05d}.safetensors"
        tensors = {
            name: _random_tensor(name, shape, std, seed, dtype)
            for unit in unit_names
            for name, shape, std in units[unit]
        }
        save_file(tensors, str(out_dir / filename), metadata={"format": "pt"})
        for name, tensor in tensors.items():
            weight_map[name] = filename
            total_size += tensor.numel() * tensor.element_size()
    index_json = {"metadata": {"total_size": total_size}, "weight_map": dict(sorted(weight_map.items()))}
    _write_json(out_dir / "model.safetensors.index.json", index_json)


# --- tokenizer ------------------------------------------------------------------------------------

# Original English text, written for this module, to train a small byte-level BPE on. Its variety
# of words (not its length) sets how many merges exist: about 2,500, enough for the "small" preset.
_CORPUS = """\
The library opens at nine in the morning and closes when the last reader leaves.
On the ground floor there are long tables, green lamps and a clock that runs two minutes fast.
Most people come to read, some come to write, and a few come only because the building is warm.
A good summary keeps the order of events, names the people who matter and leaves out the weather.
A bad summary repeats the first page and forgets how the story ends.
When you answer a question about a book, say where the answer comes from: the chapter, the page, the line.
If the book does not say, write that it does not say; a guess is not a citation.
The river runs past the old mill, under three bridges and into the harbour, where the boats wait for the tide.
Fishermen leave before dawn and come back in the afternoon with crates of cod, mackerel and herring.
Their children walk to school along the quay, counting gulls and kicking stones into the water.
In the autumn the hills turn red and gold, and the first frost arrives before the apples are picked.
Grandmother keeps the recipe for plum cake in a notebook with a broken spine.
Take flour, butter, sugar, four eggs and a pinch of salt; mix them slowly, then fold in the plums.
Bake the cake for forty minutes, let it cool on the window sill, and do not cut it before supper.
The engineer reads the report twice, marks the numbers that look wrong and sends it back with a short note.
Every function should do one thing, have a clear name and return the same result for the same input.
Tests are written before the release, not after the first complaint from a customer.
A review finds the bug that the author could not see because the author knew what the code meant to do.
Translation is harder than it looks: a sentence that is simple in one language can be long and strange in another.
Keep every paragraph, keep the numbers, and never invent a word that the original did not contain.
The train to the capital leaves from platform seven at a quarter past six and arrives just before noon.
Passengers read newspapers, drink coffee from paper cups and watch the fields go by.
Somewhere after the second station the signal fails, and everybody waits in silence for twenty minutes.
The conductor walks through the carriages, apologising, checking tickets and promising a faster journey home.
Long documents are read in pieces: a chapter at a time, a page at a time, a file at a time.
The model remembers what it has read through a state that it carries from one piece to the next.
Lightning attention keeps a running summary of the past, while softmax attention looks back at every earlier token.
Seven layers of one kind are followed by one layer of the other, and the pattern repeats until the end.
Each token is sent to two experts out of many, chosen by a small router that learns which expert knows best.
In the evening the town square fills with music, market stalls and the smell of roasted chestnuts.
An old man sells maps of places that no longer exist, and a young woman buys one for her brother.
She says that he collects forgotten roads, lost villages and rivers that changed their course.
The weather report promised rain, but the sky stayed clear and the stars came out one by one.
Astronomers on the mountain opened the dome, pointed the telescope north and waited for the comet.
It appeared a little after midnight, a pale smudge with a thin tail, exactly where the tables said it would be.
They took photographs until sunrise, then drove down the winding road for breakfast and sleep.
Numbers matter: 1, 2, 3, 10, 25, 100, 2024, 3.14 and 0.5 appear in reports, tables and invoices.
The invoice lists twelve items, a discount of five percent and a total that nobody checked.
Please send the corrected version by Friday, together with the signed contract and the delivery address.
Dear reader, thank you for your patience; the next chapter explains why the bridge was never finished.
The mayor wanted a bridge, the council wanted a tunnel, and the citizens wanted the ferry to run on time.
After seven years of meetings the ferry still runs, the bridge has two pillars and the tunnel is a museum.
Children play football on the beach while their parents argue about politics, prices and the price of politics.
A dog chases a ball into the waves, comes back soaked and shakes itself next to the nicest picnic blanket.
Some questions have short answers; others need a whole afternoon, a pot of tea and a patient friend.
What is the capital of the country? Where was the treaty signed? Who wrote the letter, and when did it arrive?
Why did the author change the ending? How many pages does the second volume have? Which version is correct?
The answer is on page forty two, in the footnote that most readers skip.
Writing clearly means choosing plain words, short sentences and a structure that the reader can follow.
Headings help, lists help, and examples help most of all; jargon, passive voice and vague promises do not.
The garden behind the house has roses, beans, potatoes, a pear tree and a bench that wobbles.
In spring the neighbours exchange seeds, in summer they exchange vegetables and in winter they exchange complaints.
When the power went out, the family lit candles, played cards and told stories about the storm of their childhood.
By morning the wind had dropped, the roads were open and the baker had fresh bread in the window again.
The museum keeps a collection of clocks, compasses, scales and instruments whose purpose nobody remembers.
A small brass device with seven dials is labelled only with a date and the word experimental.
Visitors guess what it measured: the tide, the wind, the mood of the captain or the distance to the moon.
Software, like furniture, lasts longer when it is simple, well joined and easy to repair.
Read the error message, reproduce the problem, write a failing test, fix the cause and then delete the workaround.
Logs should tell you what happened, when it happened and which input caused it, without drowning you in noise.
A configuration file is a promise: every field it contains must mean something, and mean the same thing tomorrow.
Quietly, carefully, steadily, the printer worked through the night and finished the last copy at dawn.
Happiness, kindness, darkness, brightness, readiness and forgiveness are words that share a tail.
Running, reading, writing, thinking, waiting, walking and talking are words that share another one.
Information, translation, station, nation, location and attention are words that end in the same sound.
Unhappy, unknown, unfinished, undone, unclear and unusual begin with the same small refusal.
Rebuild, reread, rewrite, return, review and repeat begin with the wish to try again.
The festival ends with fireworks over the harbour, and the boats answer with their horns.
Then the square empties, the stalls are folded, and the town goes to sleep under a sky full of smoke and stars.
Octopuses have three hearts, blue blood and arms that seem to think for themselves.
Volcanoes sleep for centuries, then wake with a rumble that rattles windows in distant villages.
The orchestra tuned their violins, cellos, oboes and trumpets while the conductor adjusted his spectacles.
A glacier moves slowly, grinding boulders into gravel and carving valleys shaped like enormous bowls.
Pharmacists measure medicine in milligrams, physicians prescribe it, and patients forget to swallow it.
The referee blew the whistle, the goalkeeper jumped sideways, and the penalty curled into the corner.
Judges interpret statutes, lawyers quote precedents, and juries weigh testimony against evidence.
Chemistry explains why bread rises, why copper turns green and why onions make everybody cry.
Penguins waddle, kangaroos bounce, squirrels scamper, eagles soar and hedgehogs curl into prickly balls.
The cartographer sketched coastlines, peninsulas, archipelagos and a mysterious island labelled uncertain.
Philosophy asks whether knowledge is possible, whether freedom is real and whether breakfast is necessary.
Electricians replace fuses, plumbers unblock drains, carpenters hang doors and gardeners prune hedges.
Mathematics offers triangles, polygons, equations, fractions, logarithms and the occasional beautiful proof.
Merchants traded spices, silk, porcelain, amber, timber and salted fish across the northern seas.
Saxophones growl, harps shimmer, drums thunder and flutes whistle like birds on a bright April morning.
Vaccines, antibiotics, anaesthesia and clean water changed medicine more than any single brilliant surgeon.
The archaeologist brushed away sand and uncovered pottery, jewellery, coins and a bronze helmet.
Hurricanes gather strength over warm oceans, spin counterclockwise in the north and weaken over land.
Journalists interview witnesses, verify quotations, correct mistakes and publish before the deadline.
Beekeepers wear veils, gloves and patience; the bees reward them with honey, wax and occasional stings.
Economists disagree about inflation, unemployment, interest rates, taxation and almost everything else.
Mushrooms sprout overnight after heavy rain, pushing through moss, pine needles and fallen leaves.
The blacksmith heated iron until it glowed orange, hammered it flat and plunged it hissing into water.
Architects balance beauty, budget, gravity and the stubborn opinions of whoever pays for the building.
Satellites orbit quietly, photographing deserts, forests, cities, icebergs and the occasional traffic jam.
Grammar distinguishes nouns, verbs, adjectives, adverbs, pronouns, prepositions and conjunctions.
Elephants remember watering holes, dolphins whistle names, crows recognise faces and parrots imitate kettles.
Firefighters climbed ladders, unrolled hoses and carried a frightened kitten down from the burning balcony.
Symphonies, sonatas, concertos, operas, ballads and lullabies fill the shelves of the music library.
Farmers plough, sow, irrigate, harvest and worry about frost, drought, locusts and the price of fertiliser.
Detectives examine fingerprints, footprints, receipts and alibis, then reveal the culprit in the drawing room.
Microscopes revealed bacteria, yeast, pollen grains and the delicate architecture of a butterfly wing.
Parliament debated the budget until midnight, amended three clauses and postponed the final vote again.
Sculptors chisel marble, potters throw clay, weavers thread looms and glassblowers breathe shapes into fire.
Thunderstorms frighten puppies, delay flights, flood basements and leave the air smelling wonderfully fresh.
Astronauts exercise daily, sleep strapped to walls, drink recycled water and photograph sunrise sixteen times.
Languages borrow vocabulary: chocolate, tomato, kayak, pyjamas, shampoo, tsunami and algebra travelled far.
Hospitals never close; nurses, porters, cleaners and cooks keep them running through holidays and storms.
Zebras, giraffes, antelopes and buffalo gather at the riverbank while crocodiles pretend to be logs.
Cyclists pedal uphill, sprinters explode from blocks, swimmers flip turns and climbers chalk their fingers.
Encyclopaedias, dictionaries, almanacs, atlases and biographies line the reference shelves from floor to ceiling.
Quantum physics puzzles everyone, including physicists, who nevertheless calculate with astonishing precision.
Bakers knead dough, butchers sharpen knives, grocers stack oranges and fishmongers shout prices across the hall.
Whales migrate thousands of kilometres, singing songs that change gradually from one year to the next.
Engineers inspect bridges for rust, cracks, vibration, corrosion and fatigue in the welded joints.
Poetry compresses feeling into rhythm, rhyme, metaphor and silence; prose spreads it out across paragraphs.
The volunteer fixed bicycles, umbrellas, toasters, radios and a grandfather clock that had stopped in nineteen fifty.
Owls hunt at night, bats navigate by echoes, moths follow moonlight and fireflies blink complicated signals.
Accountants reconcile ledgers, auditors question assumptions and managers request another spreadsheet.
Geologists classify granite, basalt, limestone, sandstone, slate and quartz by texture, colour and hardness.
Tailors measure shoulders, hem trousers, replace zips and advise customers politely about unfortunate jackets.
"""


def build_tokenizer(size: int) -> Tokenizer:
    """A GPT-2 style byte-level BPE of at most `size` tokens, the MiniMax specials last.

    Any UTF-8 text round-trips: the 256 byte symbols are always in the vocabulary. Training on
    the built-in corpus is deterministic and takes a few tens of milliseconds.
    """
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=size - len(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        special_tokens=[],
        show_progress=False,
    )
    tokenizer.train_from_iterator(_CORPUS.splitlines(), trainer)
    tokenizer.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in SPECIAL_TOKENS])
    return tokenizer


def chat_template() -> str:
    """The MiniMax-M1 chat template, verbatim from its tokenizer_config.json."""
    return CHAT_TEMPLATE_PATH.read_text(encoding="utf-8")


def write_tokenizer(out_dir: Path, size: int) -> Tokenizer:
    """tokenizer.json, vocab.json + merges.txt, tokenizer_config.json, special_tokens_map.json."""
    tokenizer = build_tokenizer(size)
    tokenizer.save(str(out_dir / "tokenizer.json"))
    tokenizer.model.save(str(out_dir))  # vocab.json + merges.txt, as the real checkpoints ship
    added = {
        str(tokenizer.token_to_id(token)): {
            "content": token,
            "lstrip": False,
            "normalized": False,
            "rstrip": False,
            "single_word": False,
            "special": True,
        }
        for token in SPECIAL_TOKENS
    }
    _write_json(
        out_dir / "tokenizer_config.json",
        {
            "add_prefix_space": False,
            "added_tokens_decoder": added,
            "bos_token": BOS_TOKEN,
            "clean_up_tokenization_spaces": False,
            "eos_token": EOS_TOKEN,
            "model_max_length": 40960000,  # the real value
            "tokenizer_class": "GPT2Tokenizer",
            "unk_token": UNK_TOKEN,
            "chat_template": chat_template(),
        },
        sort_keys=False,
    )
    _write_json(
        out_dir / "special_tokens_map.json",
        {"bos_token": BOS_TOKEN, "eos_token": EOS_TOKEN, "unk_token": UNK_TOKEN},
    )
    return tokenizer


# --- the checkpoint -------------------------------------------------------------------------------


def write_synth_checkpoint(
    out_dir: Path,
    preset: str = "tiny",
    *,
    seed: int = 0,
    fmt: str = "original",
    shards: int = 2,
    overrides: dict | None = None,
    dtype: torch.dtype | str = torch.bfloat16,
) -> Path:
    """Write a random MiniMax-architecture checkpoint to `out_dir` and return it.

    fmt "original" writes the published remote-code config.json, "hf" the native transformers
    one; the weight files are the same (original tensor names) either way. The same arguments
    give byte-identical files.
    """
    if fmt not in ("original", "hf"):
        raise ValueError(f"fmt must be 'original' or 'hf', got {fmt!r}")
    dtype = getattr(torch, dtype) if isinstance(dtype, str) else dtype
    config = synth_config(preset, overrides, dtype=str(dtype).removeprefix("torch."))
    tokenizer_size = _resolve_fields(preset, overrides)["vocab_size"]

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    _write_json(out_dir / "config.json", to_hf_config(config) if fmt == "hf" else config)
    write_tokenizer(out_dir, tokenizer_size)
    write_weights(out_dir, config, seed=seed, shards=shards, dtype=dtype)
    return out_dir


def _write_json(path: Path, obj: Any, *, sort_keys: bool = True) -> None:
    path.write_text(json.dumps(obj, indent=2, sort_keys=sort_keys, ensure_ascii=False) + "\n", encoding="utf-8")
