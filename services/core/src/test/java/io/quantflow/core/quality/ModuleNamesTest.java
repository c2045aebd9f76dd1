package io.quantflow.core.quality;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

class ModuleNamesTest {
    @Test
    void layerAndModuleFromTheName() {
        assertEquals(12, ModuleNames.layer("model.layers.12.mlp.down_proj.weight"));
        assertEquals("mlp.down_proj", ModuleNames.module("model.layers.12.mlp.down_proj.weight"));
        assertEquals("model.layers.12.mlp.down_proj", ModuleNames.fullModule("model.layers.12.mlp.down_proj.weight"));
        assertEquals(3, ModuleNames.layer("transformer.h.3.attn.c_attn.weight"));
        assertEquals("attn.c_attn", ModuleNames.module("transformer.h.3.attn.c_attn.weight"));
        assertEquals(-1, ModuleNames.layer("lm_head.weight"));
        assertEquals("lm_head", ModuleNames.module("lm_head.weight"));
        assertEquals(-1, ModuleNames.layer("model.layers_norm.weight"));
        assertEquals(7, ModuleNames.layer("model.language_model.layers.7.self_attn.q_proj.weight"));
    }
}
