"""Model facts the study relies on: the regression's model size (a multimodal checkpoint is sized by its language
model, as a text model is) and the seeded initialisation of the tiny models."""

from transformers import AutoModelForCausalLM, Gemma3Config, Gemma3ForConditionalGeneration, Qwen3ForCausalLM

from training.models import TINY_SIZES, language_model_parameters, qwen3_config


def test_a_gemma3_checkpoint_with_a_vision_tower_counts_its_language_model_only(tmp_path):
    text = dict(vocab_size=300, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                num_key_value_heads=1, head_dim=16)
    vision = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2, image_size=28,
                  patch_size=14)
    Gemma3ForConditionalGeneration(Gemma3Config(text_config=text, vision_config=vision, mm_tokens_per_image=4)).save_pretrained(tmp_path)
    model = AutoModelForCausalLM.from_pretrained(tmp_path)  # how polymix loads google/gemma-3-4b-pt
    vision_parameters = sum(p.numel() for p in model.model.vision_tower.parameters())
    projector_parameters = sum(p.numel() for p in model.model.multi_modal_projector.parameters())
    language_model = sum(p.numel() for p in model.model.language_model.parameters())  # the head is tied to it
    assert language_model_parameters(model) == language_model
    assert model.num_parameters() == language_model + vision_parameters + projector_parameters  # what was logged


def test_a_text_model_keeps_its_whole_count_with_tied_embeddings_counted_once():
    model = Qwen3ForCausalLM(qwen3_config(TINY_SIZES["s"]))
    assert language_model_parameters(model) == model.num_parameters()


def test_the_study_seed_initialises_the_tiny_models(tmp_path):
    """A tiny model stands in for a checkpoint: its random initialisation is the study's seed's, like its data order."""
    import torch
    from safetensors.torch import load_file

    from training.models import make_tiny_model

    corpus = ["Question: 2 + 3? The answer is 5.", "Pregunta: ¿2 + 3? La respuesta es 5."] * 10
    weights = {seed: load_file(make_tiny_model(tmp_path / f"seed{seed}", "s", corpus, seed=seed) / "model.safetensors")
               for seed in (0, 1)}
    again = load_file(make_tiny_model(tmp_path / "seed0-again", "s", corpus, seed=0) / "model.safetensors")
    name = "model.layers.0.self_attn.q_proj.weight"
    assert torch.equal(weights[0][name], again[name]) and not torch.equal(weights[0][name], weights[1][name])
