"""``handler.nn.relation_plan``: flat indices against per-relation loops on the small graph."""

from __future__ import annotations

import torch

from handler.nn.relation_plan import RelationPlan
from tests.handler.nn.reference_cases import HETERO_EDGES as EDGES
from tests.handler.nn.reference_cases import HETERO_NUM_NODES as NUM_NODES
from tests.handler.nn.reference_cases import hetero_graph

# Slots: every relation is projected from its source type, plus one "self" slot per type.
SLOTS = {nt: [*(et for et in EDGES if et[0] == nt), "self"] for nt in NUM_NODES}


def _plan() -> RelationPlan:
    return RelationPlan(hetero_graph(), NUM_NODES, SLOTS, list(EDGES))


def test_empty_relations_are_left_out() -> None:
    plan = _plan()
    assert plan.relations == [et for et, (src, _) in EDGES.items() if src]
    assert plan.num_edges == sum(len(src) for src, _ in EDGES.values())


def test_rows_address_each_relations_slot_and_destination() -> None:
    plan = _plan()
    # Stacked projections whose rows say (node type, node, slot).
    rows = [(nt, j, key) for nt in plan.projected for j in range(NUM_NODES[nt]) for key in SLOTS[nt]]
    out_rows = [(nt, i) for nt in NUM_NODES for i in range(NUM_NODES[nt])]
    src_rows = plan.edge_rows(0, lambda et: et).tolist()
    dst_self = plan.edge_rows(2, lambda et: "self").tolist()
    want_src, want_dst_self, want_out = [], [], []
    for et in plan.relations:
        for s, d in zip(*EDGES[et], strict=True):
            want_src.append((et[0], s, et))
            want_dst_self.append((et[2], d, "self"))
            want_out.append((et[2], d))
    assert [rows[r] for r in src_rows] == want_src
    assert [rows[r] for r in dst_self] == want_dst_self
    assert [out_rows[r] for r in plan.dst_row.tolist()] == want_out
    assert [rows[r] for r in plan.node_rows("self").tolist()] == [(nt, i, "self") for nt, i in out_rows]


def test_inverse_in_degree_is_per_relation() -> None:
    plan = _plan()
    want = []
    for et in plan.relations:
        dst = torch.tensor(EDGES[et][1])
        want.extend(1.0 / (dst == d).sum().item() for d in dst.tolist())
    torch.testing.assert_close(plan.inverse_in_degree().squeeze(1), torch.tensor(want))
    assert plan.num_buckets == sum(NUM_NODES[et[2]] for et in plan.relations)


def test_a_graph_without_edges_keeps_the_model_device() -> None:
    """An isolated target gives a graph whose every relation is empty: the plan's index tensors
    must still live on the graph's device (on a GPU this was a 500: a CPU index for a CUDA
    tensor). The meta device stands in for a GPU here."""
    from handler.nn.relational_graph import RelationalGraph

    empty = torch.zeros(0, dtype=torch.int64, device="meta")
    graph = RelationalGraph(num_nodes=dict(NUM_NODES), edges={et: (empty, empty) for et in EDGES})
    plan = RelationPlan(graph, NUM_NODES, SLOTS, list(EDGES))
    assert plan.relations == [] and plan.device == torch.device("meta")


def test_edge_slots_given_up_front_equal_those_computed_on_use() -> None:
    """The rows a layer names at construction (computed with the plan's own indices) are the
    rows ``edge_rows`` computes on first use."""
    def own(et):
        return et

    def self_slot(et):
        return "self"

    eager = RelationPlan(hetero_graph(), NUM_NODES, SLOTS, list(EDGES), [(0, own), (2, self_slot)])
    lazy = _plan()
    for side, key in ((0, own), (2, self_slot)):
        assert eager.edge_rows(side, key).tolist() == lazy.edge_rows(side, key).tolist()
    assert eager.bucket.tolist() == lazy.bucket.tolist()
    assert eager.dst_row.tolist() == lazy.dst_row.tolist()


def test_relation_ids_name_each_edges_relation() -> None:
    plan = _plan()
    names = list(reversed(EDGES))
    want = [names.index(et) for et in plan.relations for _ in EDGES[et][0]]
    assert plan.relation_ids(names).tolist() == want
