"""Stage 3, ``build``: a ``ParsedRequest`` to the model's inputs (graph + transformed features).

Mirrors GraphStorm 0.5.1's ``process_json_payload_graph`` plus the model-aware checks of
``node_prediction_entry.transform_fn``, in their order: graph structure and types (411),
feature transforms (411), edge endpoints (411), model features (404), targets (403/404).
The structural checks ran in ``parse`` (``payload_groups``). A graph built with ``add_reverse_edges``
gets its reverse edges derived here, as GConstruct added them (GraphStorm's real-time path
does not, so it serves such a model without them). Differences (``docs/compatibility.md``): an
edgeless payload is valid (T4), every model relation is present in the graph even without
edges (H1), NaN/inf values name node and feature (T10), a target type the model does not predict is a 403 (T8).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from itertools import chain
from operator import itemgetter
from typing import Any, cast

import numpy as np
import torch

from handler import native
from handler.contract.errors import (
    GraphConstructionError,
    InternalError,
    MissingModelFeatureError,
    UnsupportedConfigError,
)
from handler.contract.graph_schema import LEARNABLE_EMBEDDING_KEY, FeatureSpec, GraphSchema
from handler.contract.lm_resolution import LMNotFoundError, LMResolver
from handler.contract.model_config import ModelConfig
from handler.contract.names import TOKENIZE_HF, CanonicalEtype, relation_label
from handler.contract.targets import Position, Target, TargetKind
from handler.inputs.edge_targets import message_passing_graph
from handler.inputs.feature_rows import FeatureRows
from handler.native import edge_index
from handler.request.grouping import NodeIndex, TypeGroup, format_id, index_nodes
from handler.request.parsed import ParsedRequest
from handler.transforms import (
    FeatureTransform,
    FeatureValueError,
    TextTokens,
    build_transform,
    learnable_embedding_transform,
    stacked_float_rows,
)

_STR = frozenset((str,))
# Column dtypes a batch transforms together (booleans are refused request by request).
_BATCHED_DTYPES = (np.dtype(np.float64), np.dtype(np.int64))
# A feature's transform and its expected output shape (None: unchecked).
_Compiled = tuple[FeatureTransform, tuple[int, ...] | None]


@dataclass(frozen=True)
class TransformedGraph:
    """A request's graph with its feature values transformed: ``build``'s first half, what
    GraphStorm's ``process_json_payload_graph`` gives (``GraphBuilder.transform``).

    Attributes:
        node_ids: node type -> raw node ids in local (first-appearance) order.
        node_index: node type -> raw node id -> local index.
        edge_lists: relation -> ``(src, dst)`` local indices of the payload's edges (and the
            derived reverse edges), for relations with edges.
        node_features: node type -> feature name -> transformed values (every configured
            feature the payload carries, used by the model or not).
        edge_features: relation -> feature name -> transformed values (``TextTokens`` for a
            ``tokenize_hf`` feature).
    """

    node_ids: dict[str, list[Any]]
    node_index: NodeIndex
    edge_lists: dict[CanonicalEtype, tuple[torch.Tensor, torch.Tensor]]
    node_features: dict[str, dict[str, np.ndarray]] = field(repr=False)
    edge_features: dict[CanonicalEtype, dict[str, np.ndarray]] = field(repr=False)


@dataclass(frozen=True)
class PayloadGraph:
    """One request's graph and model inputs.

    Attributes:
        num_nodes_by_type: every model node type -> its number of nodes in the payload (maybe 0).
        edges: every model relation -> ``(src, dst)`` int64 local node indices, in payload
            order (empty tensors for relations the payload lacks); derived reverse edges in
            their forward edges' order.
        node_inputs: node type -> model input (features of ``config.node_feat_names`` in order,
            or learnable embeddings), for node types with nodes.
        edge_inputs: relation -> edge features of ``config.edge_feat_names``, for relations
            with edges that the model takes features for.
        targets: the listed targets, in request order (duplicates kept).
        target_kind: node or edge targets (``handler.contract.targets``).
        target_positions: each listed target's local node indices: ``(node,)`` or ``(source,
            destination)`` (``edges`` and ``edge_inputs`` hold the edges that carry messages
            under the kind's rule).
        text_inputs: LM node type -> its nodes' tokens (models with ``lm_model``); their
            ``node_inputs`` then hold the other features only ([n, 0] if none).

    Shapes:
        node_inputs[nt]: [num_nodes(nt), in_dim]; edge_inputs[et]: [num_edges(et), e_dim];
        text_inputs[nt]: [num_nodes(nt), max_seq_length].
    """

    num_nodes_by_type: dict[str, int]
    edges: dict[CanonicalEtype, tuple[torch.Tensor, torch.Tensor]]
    node_inputs: dict[str, torch.Tensor]
    edge_inputs: dict[CanonicalEtype, torch.Tensor]
    targets: tuple[Target, ...]
    target_kind: TargetKind
    target_positions: tuple[Position, ...]
    text_inputs: dict[str, TextTokens] = field(default_factory=dict, repr=False)

    @cached_property
    def num_nodes(self) -> int:
        """Nodes in the payload (the batch budget and the metrics each ask)."""
        return sum(self.num_nodes_by_type.values())

    @cached_property
    def num_edges(self) -> int:
        """Edges in the payload (the batch budget and the metrics each ask)."""
        return sum(src.shape[0] for src, _ in self.edges.values())  # len() of a tensor costs ~0.5 us


class GraphBuilder:
    """Builds ``PayloadGraph``s for one model (transforms compiled once).

    Args:
        schema: graph schema of ``data_transform_new.json``.
        config: the model config.
        node_input_dims: node type -> the width of the model's input for it (checked here: a
            ``data_transform_new.json`` without ``feature_dim`` does not fix feature widths).
        edge_input_dims: relation -> the width of the model's edge input for it.
        lm_resolver: where text transforms find their LM (default: ``GS_LM_MODELS``, the
            working directory, the local Hugging Face cache).

    Raises:
        UnsupportedConfigError: a feature the model reads has a transform this server lacks;
            an LM node type without exactly one ``tokenize_hf`` feature.
        LMNotFoundError: the LM of a text feature the model reads is not available locally.
    """

    def __init__(self, schema: GraphSchema, config: ModelConfig,
                 node_input_dims: Mapping[str, int] | None = None,
                 edge_input_dims: Mapping[CanonicalEtype, int] | None = None,
                 lm_resolver: LMResolver | None = None) -> None:
        self.schema = schema
        self.config = config
        self.node_input_dims = dict(node_input_dims or {})
        self.edge_input_dims = dict(edge_input_dims or {})
        # LM node type -> its tokenize_hf feature, which the LM node encoder reads.
        self._text_features = _lm_text_features(schema, config)
        resolver = lm_resolver or LMResolver.for_model_dir(None)
        self._node_transforms = {
            nt: self._compile(specs, (*config.node_feat_names.get(nt, ()), self._text_features.get(nt)), resolver,
                              f"node type {nt}")
            for nt, specs in schema.node_features.items()}
        self._edge_transforms = {et: self._compile(specs, config.edge_feat_names.get(et, ()), resolver,
                                                   f"edge type {list(et)}")
                                 for et, specs in schema.edge_features.items()}
        self._learnable = (learnable_embedding_transform(LEARNABLE_EMBEDDING_KEY), None)
        # Types whose model input rows a columnar request's features may give in one C call.
        self._node_rows = {
            nt: plan for nt, transforms in self._node_transforms.items()
            if transforms and nt not in self._text_features and not config.use_node_embeddings
            and config.node_feat_names.get(nt)
            and (plan := FeatureRows.plan(transforms, config.node_feat_names[nt], self.node_input_dims.get(nt),
                                          all_required=False)) is not None}
        self._edge_rows = {
            et: plan for et, transforms in self._edge_transforms.items()
            if transforms
            and (plan := FeatureRows.plan(transforms, config.edge_feat_names.get(et, ()),
                                          self.edge_input_dims.get(et) if config.edge_feat_names.get(et) else None,
                                          all_required=True)) is not None}
        self.target_kind = config.target_kind()
        # A relation the payload lacks: shared empty index tensors (nothing writes to them).
        empty = torch.zeros(0, dtype=torch.int64)
        self._no_edges = (empty, empty)

    @staticmethod
    def _compile(specs: Sequence[FeatureSpec], used: Sequence[str | None],
                 resolver: LMResolver, where: str) -> dict[str, _Compiled]:
        """Transform and output shape by feature name; features the model does not read may
        use transforms this server lacks, or an LM it cannot find (their payload values are
        then ignored). A refusal names ``where`` (the node or edge type)."""
        compiled = {}
        for spec in specs:
            try:
                compiled[spec.name] = (build_transform(spec, resolver), spec.dim)
            except UnsupportedConfigError as err:
                if spec.name in used:
                    raise UnsupportedConfigError(f"{where}: {err}") from err
            except LMNotFoundError:
                if spec.name in used:
                    raise
        return compiled

    @property
    def transformed_node_features(self) -> dict[str, frozenset[str]]:
        """Node type -> the features whose payload values are transformed; the payload values of
        the type's other configured features are ignored (features the model does not read,
        whose transform this server lacks: ``_compile``)."""
        return {ntype: frozenset(compiled) for ntype, compiled in self._node_transforms.items()}

    def build(self, request: ParsedRequest) -> PayloadGraph:
        """Checks the payload graph against the model and builds its inputs.

        Args:
            request: the output of ``parse``.

        Returns:
            The payload graph.

        Raises:
            RealtimeError: 411 (graph), 404 (model feature, target id), 403 (target type),
                402 (empty node id), 500 (learnable embeddings missing, as GraphStorm).
        """
        # Types read as columns, their features done in one C call (error-free by then: a type
        # with anything to report takes the Python path below, which reports it in order).
        node_rows = {nt: rows for nt, group in request.nodes.items() if (plan := self._node_rows.get(nt))
                     and (rows := plan.rows(group, f"node type {nt}", "node id", self._apply)) is not None}
        edge_rows = {et: rows for et, group in request.edges.items() if (plan := self._edge_rows.get(et))
                     and (rows := plan.rows(group, relation_label(et), "edge", self._apply)) is not None}
        transformed = self.transform(request, node_rows.keys(), edge_rows.keys())
        node_ids, edge_lists = transformed.node_ids, transformed.edge_lists
        node_features, edge_features = transformed.node_features, transformed.edge_features
        self._check_model_features(node_features, edge_features)
        positions = self.target_kind.locate(request.targets, transformed.node_index)
        node_inputs = self._node_inputs(node_features, node_ids, node_rows)
        if edge_rows and self.schema.add_reverse_edges and self.schema.is_homogeneous:
            edge_rows = {et: np.concatenate([rows, rows]) for et, rows in edge_rows.items()}  # as _add_reverse_edges
        edge_inputs = self._edge_inputs(edge_features, edge_lists, edge_rows)
        # A text feature's transform is tokenize_hf, whose value is TextTokens (typed np.ndarray above).
        text_inputs = {nt: cast(TextTokens, node_features[nt][name])
                       for nt, name in self._text_features.items() if nt in node_features}
        edges = {et: edge_lists.get(et, self._no_edges) for et in self.schema.canonical_etypes}
        edges, edge_inputs = message_passing_graph(self.target_kind.message_rule, edges, edge_inputs,
                                                   request.targets, positions)
        return PayloadGraph(
            num_nodes_by_type={nt: len(node_ids.get(nt, ())) for nt in self.schema.ntypes},
            edges=edges,
            node_inputs=node_inputs,
            edge_inputs=edge_inputs,
            targets=request.targets,
            target_kind=self.target_kind,
            target_positions=positions,
            text_inputs=text_inputs,
        )

    def transform(self, request: ParsedRequest, done_nodes: Collection[str] = (),
                  done_edges: Collection[CanonicalEtype] = ()) -> TransformedGraph:
        """The request's graph with transformed feature values (the first half of ``build``).

        Args:
            request: the output of ``parse``.
            done_nodes, done_edges: types whose features ``build`` already made into model
                input rows (``FeatureRows``): left out of ``node_features`` / ``edge_features``.

        Raises:
            RealtimeError: 411 (feature values, edge endpoints), 402 (empty node id).
        """
        node_groups, edge_groups = request.nodes, request.edges
        node_ids, node_index = index_nodes(node_groups)
        node_features = {nt: self._transform_nodes(nt, g) for nt, g in node_groups.items() if nt not in done_nodes}
        edge_lists = {et: self._map_edges(et, g, node_index) for et, g in edge_groups.items()}
        edge_features = {et: self._transform_edges(et, g) for et, g in edge_groups.items() if et not in done_edges}
        if self.schema.add_reverse_edges:
            self._add_reverse_edges(edge_lists, edge_features)
        return TransformedGraph(node_ids, node_index, edge_lists, node_features, edge_features)

    # -- features ----------------------------------------------------------------------

    def _transform_nodes(self, ntype: str, group: TypeGroup) -> dict[str, np.ndarray]:
        transforms = self._node_transforms.get(ntype, {})
        if transforms and not group.keys:
            reads = ", ".join(f"'{name}'" for name in self._model_reads(ntype))
            raise GraphConstructionError(f"node type {ntype}: the nodes carry no features (the model reads {reads})")
        feats = {}
        for name in group.keys or ():
            compiled = transforms.get(name)
            if compiled is None and name == LEARNABLE_EMBEDDING_KEY:
                compiled = self._learnable
            if compiled is not None:
                feats[name] = self._apply(compiled, group, f"node type {ntype}", "node id")
        return feats

    def _model_reads(self, ntype: str) -> tuple[str, ...]:
        """The features the model reads of a node type's nodes (``_node_inputs``), for error texts."""
        names = tuple(self.config.node_feat_names.get(ntype) or ())
        text = self._text_features.get(ntype)
        # As _node_inputs decides: an embedding after the features, or as the only input
        learnable = (bool(names) and self.config.use_node_embeddings) or (not names and text is None)
        return (*names, *((text,) if text else ()), *((LEARNABLE_EMBEDDING_KEY,) if learnable else ()))

    def _transform_edges(self, etype: CanonicalEtype, group: TypeGroup) -> dict[str, np.ndarray]:
        transforms = self._edge_transforms.get(etype, {})
        if transforms and not group.keys:
            raise GraphConstructionError(f"edge type {list(etype)}: the edges carry no features")
        # Unlike node features, GraphStorm transforms every configured edge feature, so the
        # payload's edges must carry all of them, used by the model or not.
        for name in transforms:
            if name not in (group.keys or ()):  # keys are set when there are transforms (checked above)
                raise GraphConstructionError(
                    f"edge type {list(etype)}: the edges lack feature '{name}' of the graph "
                    "construction config"
                )
        return {name: self._apply(compiled, group, relation_label(etype), "edge")
                for name, compiled in transforms.items()}

    def transform_batch(self, requests: Sequence[ParsedRequest]) -> None:
        """Transforms each row-wise feature of a batch's requests in one call (in place).

        A feature transform costs ~10-40 us per call whatever its rows (numpy call overhead), so
        a batch transforms each row-wise feature of a node type (relation) once over the rows of
        all its requests and leaves each request's rows on its group (``TypeGroup.transformed``);
        ``build`` then uses them. Only what answers exactly as each request alone is batched:
        a ``row_wise`` transform over values whose leaves are all floats or all integers
        (numpy then gives every request's values, alone or together, the same dtype), and a
        ``row_wise_text`` one (categories) over values that are all strings, and numeric
        columns (Arrow and targets-only requests) of one dtype and row width. Anything
        else, or any failure, is left to ``build`` request by request (which raises the right
        error for the right request).

        Args:
            requests: the parsed requests of a batch.
        """
        if len(requests) < 2:
            return
        parts = (("nodes", self._node_transforms, self._node_rows), ("edges", self._edge_transforms, self._edge_rows))
        for part, compiled_by_type, rows_by_type in parts:
            types: dict[Any, list[TypeGroup]] = {}
            for request in requests:
                for key, group in getattr(request, part).items():
                    if group.keys:
                        types.setdefault(key, []).append(group)
            for key, groups in types.items():
                for name, (transform, _) in compiled_by_type.get(key, {}).items():
                    # A column group's feature the C transforms: build writes it (FeatureRows).
                    in_c = native.fastpath is not None and key in rows_by_type and rows_by_type[key].in_c(name)
                    with_feature = [g for g in groups if name in g.keys  # type: ignore[operator]  # keys checked above
                                    and not (in_c and g.columns is not None)]
                    if len(with_feature) > 1:
                        if transform.row_wise:
                            _transform_together(transform, name, with_feature)
                        elif transform.row_wise_text:
                            _transform_text_together(transform, name, with_feature)

    @staticmethod
    def _apply(compiled: _Compiled, group: TypeGroup, where: str, id_word: str) -> np.ndarray:
        transform, dim = compiled
        name = transform.name
        try:
            out: np.ndarray = group.transformed.get(name)  # type: ignore[assignment]  # set by transform_batch
            if out is None:
                out = transform.apply(group.values(name, as_array=transform.accepts_arrays))
        except FeatureValueError as err:
            at = "" if err.row is None else f", {id_word} {format_id(group.ids[err.row])}"
            raise GraphConstructionError(f"{where}{at}: feature '{name}' {err.reason}") from None
        if isinstance(out, TextTokens):  # its feature_dim is the LM's, not the tokens' shape
            return out
        if dim is not None and out.shape[1:] != dim:
            raise GraphConstructionError(
                f"{where}: feature '{name}' has {out.shape[1]} values per row after its transform, "
                f"expected {dim[0] if len(dim) == 1 else dim}"
            )
        return out

    def _map_edges(self, etype: CanonicalEtype, group: TypeGroup,
                   node_index: Mapping[str, dict[Any, int]]) -> tuple[torch.Tensor, torch.Tensor]:
        if group.endpoints is not None:  # indexed while the body was read (json_columns, or an Arrow body's positions)
            return torch.from_numpy(group.endpoints[0]), torch.from_numpy(group.endpoints[1])
        src_type, _, dst_type = etype
        src_map, dst_map = node_index.get(src_type, {}), node_index.get(dst_type, {})
        mapped = edge_index(group.ids, src_map, dst_map)  # in C; None: an endpoint is missing (or no extension)
        if mapped is not None:
            return torch.from_numpy(mapped[0]), torch.from_numpy(mapped[1])
        try:  # fast path: every endpoint is a payload node (lookups in C, no bytecode per edge)
            count = len(group.ids)
            src = np.fromiter(map(src_map.__getitem__, map(itemgetter(0), group.ids)), np.int64, count)
            dst = np.fromiter(map(dst_map.__getitem__, map(itemgetter(1), group.ids)), np.int64, count)
            return torch.from_numpy(src), torch.from_numpy(dst)
        except KeyError:
            pass
        for s, d in group.ids:
            if s not in src_map or d not in dst_map:
                side, ntype, node_id = ("source", src_type, s) if s not in src_map else ("destination", dst_type, d)
                raise GraphConstructionError(
                    f"edge type {list(etype)}, edge {format_id((s, d))}: the {side} node {format_id(node_id)} is not a "
                    f"{ntype} node of the payload"
                )
        raise InternalError(f"edge type {list(etype)}: an endpoint lookup failed")

    def _add_reverse_edges(self, edge_lists: dict[CanonicalEtype, tuple[torch.Tensor, torch.Tensor]],
                           edge_features: dict[CanonicalEtype, dict[str, np.ndarray]]) -> None:
        """GConstruct's ``--add-reverse-edges`` on the payload's edges (in place).

        Heterogeneous graph: each reverse relation gets its configured relation's edges
        swapped, without features. Homogeneous graph: the swapped edges are appended to
        ``_E`` and its edge features duplicated, as GConstruct does.
        """
        if self.schema.is_homogeneous:
            for etype, (src, dst) in edge_lists.items():
                edge_lists[etype] = (torch.cat([src, dst]), torch.cat([dst, src]))
                if etype in edge_features:  # else build doubles its rows
                    edge_features[etype] = {name: np.concatenate([v, v]) for name, v in edge_features[etype].items()}
            return
        for reverse, forward in self.schema.reverse_of.items():
            if forward in edge_lists:
                src, dst = edge_lists[forward]
                edge_lists[reverse] = (dst, src)

    # -- model-aware checks (transform_fn) ---------------------------------------------

    def _check_model_features(self, node_features: dict[str, dict[str, np.ndarray]],
                              edge_features: dict[CanonicalEtype, dict[str, np.ndarray]]) -> None:
        for ntype, feats in node_features.items():
            text = (self._text_features[ntype],) if ntype in self._text_features else ()
            for name in (*self.config.node_feat_names.get(ntype, ()), *text):
                if name not in feats:
                    raise MissingModelFeatureError(
                        f"the {ntype} nodes do not contain model required feature: {name}"
                    )
        for etype, feats in edge_features.items():
            for name in self.config.edge_feat_names.get(etype, ()):
                if name not in feats:
                    raise MissingModelFeatureError(
                        f"the {list(etype)} edges do not contain model required feature: {name}"
                    )

    # -- model inputs ------------------------------------------------------------------

    def _node_inputs(self, node_features: dict[str, dict[str, np.ndarray]], node_ids: dict[str, list[Any]],
                     node_rows: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
        inputs = {}
        for ntype in node_ids:
            rows = node_rows.get(ntype)
            if rows is not None:
                inputs[ntype] = torch.from_numpy(rows)
                continue
            feats = node_features[ntype]
            names = self.config.node_feat_names.get(ntype)
            if names:
                arrays = [feats[name] for name in names]
                if self.config.use_node_embeddings:  # the node's learnable embedding follows its features
                    arrays.append(self._learnable_embedding(ntype, feats, node_ids))
                    names = (*names, LEARNABLE_EMBEDDING_KEY)
            elif ntype in self._text_features:  # the LM embedding is the whole input
                inputs[ntype] = torch.zeros((len(node_ids[ntype]), 0))
                continue
            else:
                arrays = [self._learnable_embedding(ntype, feats, node_ids)]
            inputs[ntype] = _checked_width(
                np.concatenate(arrays, axis=1) if len(arrays) > 1 else arrays[0],
                self.node_input_dims.get(ntype), f"node type {ntype}", names or (LEARNABLE_EMBEDDING_KEY,))
        return inputs

    def _learnable_embedding(self, ntype: str, feats: dict[str, np.ndarray],
                             node_ids: dict[str, list[Any]]) -> np.ndarray:
        """The ``gs_learnable_embedding`` vectors of a node type's nodes (hidden size wide)."""
        if LEARNABLE_EMBEDDING_KEY not in feats:
            # GraphStorm fails this request in its model (500); the text says what to send.
            raise InternalError(
                f"The input features should contains a key: {LEARNABLE_EMBEDDING_KEY} for using "
                f"learnable embeddings (node type {ntype}, node id {format_id(node_ids[ntype][0])})."
            )
        emb = feats[LEARNABLE_EMBEDDING_KEY]
        if emb.shape[1] != self.config.hidden_size:
            raise GraphConstructionError(
                f"node type {ntype}: feature '{LEARNABLE_EMBEDDING_KEY}' has {emb.shape[1]} values per "
                f"node, expected {self.config.hidden_size} (the model's embedding size)"
            )
        return emb

    def _edge_inputs(self, edge_features: dict[CanonicalEtype, dict[str, np.ndarray]],
                     edge_lists: dict[CanonicalEtype, tuple[torch.Tensor, torch.Tensor]],
                     edge_rows: dict[CanonicalEtype, np.ndarray]) -> dict[CanonicalEtype, torch.Tensor]:
        inputs = {}
        for etype, names in self.config.edge_feat_names.items():
            rows = edge_rows.get(etype)
            if rows is not None and names:
                inputs[etype] = torch.from_numpy(rows)
            elif etype in edge_features and names:
                arrays = [edge_features[etype][name] for name in names]
                inputs[etype] = _checked_width(
                    np.concatenate(arrays, axis=1) if len(arrays) > 1 else arrays[0],
                    self.edge_input_dims.get(etype), relation_label(etype), names)
        return inputs


def _transform_together(transform: FeatureTransform, name: str, groups: list[TypeGroup]) -> None:
    """One ``transform`` call over the rows of several requests' groups (see
    ``GraphBuilder.transform_batch``); leaves each group's rows on it, or nothing."""
    if not transform.accepts_arrays:
        return
    parts = [g.values(name) for g in groups]
    columns = [part for part in parts if isinstance(part, np.ndarray)]
    if columns:  # numeric columns: together when each is what the transform would get alone
        first = columns[0]
        if len(columns) < len(parts) or first.dtype not in _BATCHED_DTYPES or any(
                c.dtype != first.dtype or c.shape[1:] != first.shape[1:] for c in columns):
            return
    try:
        with np.errstate(all="ignore"):
            # Each request's rows exactly as it has them alone (numeric columns, vectors of floats).
            rows: np.ndarray | None = np.concatenate(columns) if columns else stacked_float_rows(parts)
            if rows is None:
                values = list(chain.from_iterable(parts))
                leaves = set(map(type, values))
                if leaves == {list}:
                    leaves = set(map(type, chain.from_iterable(values)))
                if leaves not in ({float}, {int}):
                    return
                rows = np.array(values)
                # All floats (all ints within int64): the array np.array makes of each request's
                # values alone has this dtype too, so the transform sees its rows as it would alone.
                if rows.dtype != (np.float64 if leaves == {float} else np.int64):
                    return
            out = transform.apply(rows)
    except Exception:  # noqa: BLE001 - each request is transformed alone by build, which reports it
        return
    _split_rows(out, name, groups, parts)


def _split_rows(out: Any, name: str, groups: list[TypeGroup], parts: list[list[Any]]) -> None:
    """Leaves each group its rows of a transform's output over all ``parts`` (nothing when the
    output is not one row per value)."""
    if not isinstance(out, np.ndarray) or len(out) != sum(map(len, parts)):
        return
    start = 0
    for group, part in zip(groups, parts, strict=True):
        group.transformed[name] = out[start:start + len(part)]
        start += len(part)


def _transform_text_together(transform: FeatureTransform, name: str, groups: list[TypeGroup]) -> None:
    """One ``transform`` call over several requests' string values (``row_wise_text``); leaves
    each group's rows on it, or nothing (a part that is not all strings, any failure)."""
    parts = [g.values(name) for g in groups]
    if any(isinstance(part, np.ndarray) or set(map(type, part)) != _STR for part in parts):
        return
    try:
        out = transform.apply(list(chain.from_iterable(parts)))
    except Exception:  # noqa: BLE001 - each request is transformed alone by build, which reports it
        return
    _split_rows(out, name, groups, parts)


def _checked_width(x: np.ndarray, width: int | None, where: str, names: Sequence[str]) -> torch.Tensor:
    """The model input as a tensor, after checking its width against the model's (411)."""
    if width is not None and x.shape[1] != width:
        raise GraphConstructionError(
            f"{where}: features {', '.join(names)} give {x.shape[1]} values per row after their "
            f"transforms; the model expects {width}"
        )
    return torch.from_numpy(x)


def _lm_text_features(schema: GraphSchema, config: ModelConfig) -> dict[str, str]:
    """LM node type -> the name of its ``tokenize_hf`` feature (GraphStorm stores the tokens
    under fixed names, so a node type has exactly one)."""
    text = {}
    for spec in config.lm_models:
        for ntype in spec.node_types:
            names = [f.name for f in schema.node_features.get(ntype, ()) if f.transform_name == TOKENIZE_HF]
            if len(names) != 1:
                raise UnsupportedConfigError(
                    f"lm_model: node type {ntype!r} needs exactly one tokenize_hf feature in the graph "
                    f"construction config, found {len(names)}"
                )
            text[ntype] = names[0]
    return text


def int64_tensor(values: list[int]) -> torch.Tensor:
    """``torch.tensor(values, dtype=torch.int64)`` at a third of its cost (numpy converts a
    list of Python ints faster than torch does).

    Shapes:
        returns [len(values)].
    """
    return torch.from_numpy(np.array(values, dtype=np.int64))
