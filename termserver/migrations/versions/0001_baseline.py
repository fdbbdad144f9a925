"""Baseline: the schema ``Base.metadata.create_all`` made before migrations existed.

A database made by an earlier termserver (its tables, no alembic_version) is stamped at this revision by
``termserver.db.upgrade_schema`` (see ``BASELINE_TABLES`` there) rather than re-created.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = '0001'
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table('code_system',
        sa.Column('language', sa.String(length=20), nullable=True),
        sa.Column('content', sa.String(length=20), nullable=False),
        sa.Column('case_sensitive', sa.Boolean(), nullable=False),
        sa.Column('hierarchy_meaning', sa.String(length=40), nullable=True),
        sa.Column('supplements', sa.String(length=500), nullable=True),
        sa.Column('supplements_version', sa.String(length=100), nullable=True),
        sa.Column('value_set', sa.String(length=500), nullable=True),
        sa.Column('property_definitions', sa.JSON(), nullable=False),
        sa.Column('concept_count', sa.Integer(), nullable=False),
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('url', sa.String(length=500), nullable=False),
        sa.Column('version', sa.String(length=100), nullable=True),
        sa.Column('version_key', sa.String(length=100), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=True),
        sa.Column('title', sa.String(length=500), nullable=True),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('publisher', sa.String(length=300), nullable=True),
        sa.Column('date', sa.String(length=40), nullable=True),
        sa.Column('description', sa.Text(), nullable=True),
        sa.Column('extra', sa.JSON(), nullable=False),
        sa.Column('source', sa.Text(), nullable=True),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('loaded_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('url', 'version_key', name='uq_code_system_url_version')
    )
    op.create_index('ix_code_system_supplements', 'code_system', ['supplements'])
    op.create_index('ix_code_system_url', 'code_system', ['url'])

    op.create_table('concept_map',
        sa.Column('source_scope', sa.String(length=500), nullable=True),
        sa.Column('target_scope', sa.String(length=500), nullable=True),
        sa.Column('mapping_count', sa.Integer(), nullable=False),
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('url', sa.String(length=500), nullable=False),
        sa.Column('version', sa.String(length=100), nullable=True),
        sa.Column('version_key', sa.String(length=100), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=True),
        sa.Column('title', sa.String(length=500), nullable=True),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('publisher', sa.String(length=300), nullable=True),
        sa.Column('date', sa.String(length=40), nullable=True),
        sa.Column('description', sa.Text(), nullable=True),
        sa.Column('extra', sa.JSON(), nullable=False),
        sa.Column('source', sa.Text(), nullable=True),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('loaded_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('url', 'version_key', name='uq_concept_map_url_version')
    )
    op.create_index('ix_concept_map_url', 'concept_map', ['url'])

    op.create_table('store_state',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('generation', sa.Integer(), nullable=False),
        sa.Column('changed_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id')
    )
    op.create_table('system_alias',
        sa.Column('uri', sa.String(length=500), nullable=False),
        sa.Column('canonical', sa.String(length=500), nullable=False),
        sa.Column('retired', sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint('uri')
    )
    op.create_index('ix_system_alias_canonical', 'system_alias', ['canonical'])

    op.create_table('value_set',
        sa.Column('compose', sa.JSON(), nullable=True),
        sa.Column('expansion', sa.JSON(), nullable=True),
        sa.Column('aliases', sa.JSON(), nullable=False),
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('url', sa.String(length=500), nullable=False),
        sa.Column('version', sa.String(length=100), nullable=True),
        sa.Column('version_key', sa.String(length=100), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=True),
        sa.Column('title', sa.String(length=500), nullable=True),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('publisher', sa.String(length=300), nullable=True),
        sa.Column('date', sa.String(length=40), nullable=True),
        sa.Column('description', sa.Text(), nullable=True),
        sa.Column('extra', sa.JSON(), nullable=False),
        sa.Column('source', sa.Text(), nullable=True),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('loaded_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('url', 'version_key', name='uq_value_set_url_version')
    )
    op.create_index('ix_value_set_url', 'value_set', ['url'])

    op.create_table('code_system_layer',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('code_system_id', sa.Integer(), nullable=False),
        sa.Column('key', sa.String(length=200), nullable=False),
        sa.Column('priority', sa.Integer(), nullable=False),
        sa.Column('role', sa.String(length=20), nullable=False),
        sa.Column('version', sa.String(length=100), nullable=True),
        sa.Column('source', sa.Text(), nullable=True),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('payload', sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(['code_system_id'], ['code_system.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('code_system_id', 'key', name='uq_layer_key')
    )
    op.create_index('ix_code_system_layer_code_system_id', 'code_system_layer', ['code_system_id'])

    op.create_table('concept',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('code_system_id', sa.Integer(), nullable=False),
        sa.Column('code', sa.String(length=100), nullable=False),
        sa.Column('code_folded', sa.String(length=100), nullable=False),
        sa.Column('display', sa.Text(), nullable=True),
        sa.Column('definition', sa.Text(), nullable=True),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.Column('status', sa.String(length=30), nullable=True),
        sa.Column('not_selectable', sa.Boolean(), nullable=False),
        sa.Column('sort_order', sa.Integer(), nullable=False),
        sa.Column('search_text', sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(['code_system_id'], ['code_system.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('code_system_id', 'code', name='uq_concept_code')
    )
    op.create_index('ix_concept_code_lower', 'concept', ['code_system_id', 'code_folded'])

    op.create_table('concept_parent',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('code_system_id', sa.Integer(), nullable=False),
        sa.Column('child_code', sa.String(length=100), nullable=False),
        sa.Column('parent_code', sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(['code_system_id'], ['code_system.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_parent_child', 'concept_parent', ['code_system_id', 'child_code'])
    op.create_index('ix_parent_parent', 'concept_parent', ['code_system_id', 'parent_code'])

    op.create_table('map_element',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('concept_map_id', sa.Integer(), nullable=False),
        sa.Column('source_system', sa.String(length=500), nullable=False),
        sa.Column('source_version', sa.String(length=100), nullable=True),
        sa.Column('source_code', sa.String(length=100), nullable=False),
        sa.Column('source_display', sa.Text(), nullable=True),
        sa.Column('target_system', sa.String(length=500), nullable=True),
        sa.Column('target_version', sa.String(length=100), nullable=True),
        sa.Column('target_code', sa.String(length=100), nullable=True),
        sa.Column('target_display', sa.Text(), nullable=True),
        sa.Column('equivalence', sa.String(length=30), nullable=False),
        sa.Column('comment', sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(['concept_map_id'], ['concept_map.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_map_source', 'map_element', ['concept_map_id', 'source_system', 'source_code'])
    op.create_index('ix_map_target', 'map_element', ['concept_map_id', 'target_system', 'target_code'])

    op.create_table('concept_property',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('concept_id', sa.Integer(), nullable=False),
        sa.Column('code', sa.String(length=100), nullable=False),
        sa.Column('type', sa.String(length=20), nullable=False),
        sa.Column('value', sa.Text(), nullable=False),
        sa.Column('value_system', sa.String(length=300), nullable=True),
        sa.Column('value_display', sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(['concept_id'], ['concept.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_concept_property_concept_id', 'concept_property', ['concept_id'])

    op.create_table('designation',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('concept_id', sa.Integer(), nullable=False),
        sa.Column('language', sa.String(length=20), nullable=True),
        sa.Column('use_system', sa.String(length=300), nullable=True),
        sa.Column('use_code', sa.String(length=100), nullable=True),
        sa.Column('use_display', sa.String(length=300), nullable=True),
        sa.Column('value', sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(['concept_id'], ['concept.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_designation_concept_id', 'designation', ['concept_id'])


def downgrade() -> None:
    # dependants first; a table's indexes go with it
    op.drop_table('designation')
    op.drop_table('concept_property')
    op.drop_table('map_element')
    op.drop_table('concept_parent')
    op.drop_table('concept')
    op.drop_table('code_system_layer')
    op.drop_table('value_set')
    op.drop_table('system_alias')
    op.drop_table('store_state')
    op.drop_table('concept_map')
    op.drop_table('code_system')
