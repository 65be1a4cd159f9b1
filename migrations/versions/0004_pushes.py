"""one row per push: the draft derived from its pieces; conversations keyed by the blind index;
submitted pieces marked apart; plain-mode signatures; rate counters in the database

Open drafts are carried over as sealed pieces (with the deployment's IDENTITY_KEY); cancelled
drafts had no content left. Downgrading keeps cases and conversations but not open drafts.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""
from __future__ import annotations

import secrets

import sqlalchemy as sa
from alembic import context, op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'pushes',
        sa.Column('key', sa.String(length=64), nullable=False),
        sa.Column('conversation', sa.String(length=64), nullable=True),
        sa.Column('sealed', sa.LargeBinary(), nullable=True),
        sa.Column('reply', sa.LargeBinary(), nullable=True),
        sa.Column('at', sa.DateTime(), nullable=False),
        sa.Column('media', sa.String(length=10), nullable=True),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('claimed_at', sa.DateTime(), nullable=True),
        sa.Column('last_error', sa.String(length=300), nullable=True),
        sa.Column('file', sa.String(length=300), nullable=True),
        sa.PrimaryKeyConstraint('key', name=op.f('pk_pushes')),
    )
    with op.batch_alter_table('pushes') as batch_op:
        batch_op.create_index('ix_pushes_conversation', ['conversation'], unique=False,
                              postgresql_where=sa.text("conversation IS NOT NULL"),
                              sqlite_where=sa.text("conversation IS NOT NULL"))
    op.create_table('submitted_pieces', sa.Column('tag', sa.String(length=64), nullable=False),
                    sa.PrimaryKeyConstraint('tag', name=op.f('pk_submitted_pieces')))
    op.create_table('push_signatures',
                    sa.Column('signature', sa.String(length=64), nullable=False),
                    sa.Column('body', sa.String(length=64), nullable=False),
                    sa.Column('at', sa.DateTime(), nullable=False),
                    sa.PrimaryKeyConstraint('signature', name=op.f('pk_push_signatures')))
    op.create_table('rate_counters',
                    sa.Column('name', sa.String(length=40), nullable=False),
                    sa.Column('window_end', sa.DateTime(), nullable=False),
                    sa.Column('count', sa.Integer(), nullable=False),
                    sa.PrimaryKeyConstraint('name', name=op.f('pk_rate_counters')))

    op.rename_table('conversations', 'conversations_old')
    op.create_table(
        'conversations',
        sa.Column('openid_hash', sa.String(length=64), nullable=False),
        sa.Column('openid_enc', sa.LargeBinary(), nullable=True),
        sa.Column('qr_code_id', sa.Integer(), nullable=True),
        sa.Column('last_inbound_at', sa.DateTime(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('reminded_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['qr_code_id'], ['qr_codes.id'], name=op.f('fk_conversations_qr_code_id_qr_codes_v2')),
        sa.PrimaryKeyConstraint('openid_hash', name=op.f('pk_conversations_v2')),
    )
    op.execute("INSERT INTO conversations (openid_hash, openid_enc, qr_code_id, last_inbound_at, created_at) "
               "SELECT openid_hash, openid_enc, qr_code_id, last_inbound_at, created_at FROM conversations_old")
    _carry_open_drafts()
    op.drop_table('draft_entries')
    with op.batch_alter_table('attachments') as batch_op:
        batch_op.drop_index(batch_op.f('ix_attachments_draft_id'))
        batch_op.drop_constraint(batch_op.f('fk_attachments_draft_id_drafts'), type_='foreignkey')
        batch_op.drop_column('draft_id')
        batch_op.alter_column('case_id', existing_type=sa.Integer(), nullable=False)
    op.drop_table('drafts')
    op.drop_table('conversations_old')
    op.drop_table('inbound_messages')


def _carry_open_drafts() -> None:
    """Each open draft's entries and media become sealed pieces of its conversation."""
    conn = op.get_bind()
    drafts = conn.execute(sa.text(
        "SELECT d.id, d.anonymity, d.name_enc, d.phone_enc, c.openid_hash FROM drafts d "
        "JOIN conversations_old c ON d.conversation_id = c.id WHERE d.status = 'open'")).all()
    if drafts:
        from core.identity import IdentityVault
        from core.settings import Settings

        vault = IdentityVault(context.config.attributes.get("identity_key") or Settings.from_env().identity_key)
    for d in drafts:
        texts = conn.execute(sa.text("SELECT created_at, text FROM draft_entries WHERE draft_id = :d AND kind = 'text' "
                                     "ORDER BY id"), {"d": d.id}).all()
        media = conn.execute(sa.text(
            "SELECT created_at, kind, media_id, media_format, recognition, lat, lng, label, status, attempts, "
            "storage_path FROM attachments WHERE draft_id = :d ORDER BY id"), {"d": d.id}).all()
        rows = [(t.created_at, {"k": "text", "t": t.text}, None, None) for t in texts]
        rows += [(m.created_at, {"k": m.kind, "t": m.recognition if m.kind == "voice" else m.label,
                                 "m": m.media_id, "f": m.media_format, "x": m.lat, "y": m.lng},
                  None if m.kind == "location" else m.status, m.storage_path) for m in media]
        if d.anonymity == "anonymous":
            rows.append((None, {"k": "anonymous"}, None, None))
        elif d.anonymity == "named":
            rows.append((None, {"k": "named", "n": vault.decrypt(d.name_enc), "p": vault.decrypt(d.phone_enc)},
                         None, None))
        last = max((r[0] for r in rows if r[0] is not None), default=None)
        for i, (at, piece, status, path) in enumerate(sorted(rows, key=lambda r: (r[0] is None, r[0] or last))):
            piece["o"] = i
            at = (at or last).replace(minute=0, second=0, microsecond=0)
            conn.execute(sa.text(
                "INSERT INTO pushes (key, conversation, sealed, at, media, attempts, file) "
                "VALUES (:key, :conv, :sealed, :at, :media, 0, :file)"),
                {"key": "carried:" + secrets.token_hex(16), "conv": d.openid_hash, "sealed": vault.seal(piece),
                 "at": at, "media": status, "file": path})
    conn.execute(sa.text("DELETE FROM attachments WHERE case_id IS NULL"))


def downgrade() -> None:
    op.create_table(
        'inbound_messages',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('dedupe_key', sa.String(length=120), nullable=False),
        sa.Column('msg_type', sa.String(length=30), nullable=False),
        sa.Column('received_at', sa.DateTime(), nullable=False),
        sa.Column('reply', sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_inbound_messages')),
        sa.UniqueConstraint('dedupe_key', name=op.f('uq_inbound_messages_dedupe_key')))
    op.rename_table('conversations', 'conversations_new')
    op.create_table(
        'conversations',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('openid_hash', sa.String(length=64), nullable=False),
        sa.Column('openid_enc', sa.LargeBinary(), nullable=True),
        sa.Column('qr_code_id', sa.Integer(), nullable=True),
        sa.Column('last_inbound_at', sa.DateTime(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['qr_code_id'], ['qr_codes.id'], name=op.f('fk_conversations_qr_code_id_qr_codes')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_conversations')),
        sa.UniqueConstraint('openid_hash', name=op.f('uq_conversations_openid_hash')))
    op.execute("INSERT INTO conversations (openid_hash, openid_enc, qr_code_id, last_inbound_at, created_at) "
               "SELECT openid_hash, openid_enc, qr_code_id, last_inbound_at, created_at FROM conversations_new")
    op.drop_table('conversations_new')
    op.create_table(
        'drafts',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('conversation_id', sa.Integer(), nullable=True),
        sa.Column('status', sa.String(length=12), nullable=False),
        sa.Column('anonymity', sa.String(length=12), nullable=False),
        sa.Column('name_enc', sa.LargeBinary(), nullable=True),
        sa.Column('phone_enc', sa.LargeBinary(), nullable=True),
        sa.Column('qr_code_id', sa.Integer(), nullable=True),
        sa.Column('entry_count', sa.Integer(), nullable=False),
        sa.Column('summary', sa.String(length=80), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.Column('reminded_at', sa.DateTime(), nullable=True),
        sa.Column('abandoned_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'],
                                name=op.f('fk_drafts_conversation_id_conversations'), ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['qr_code_id'], ['qr_codes.id'], name=op.f('fk_drafts_qr_code_id_qr_codes')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_drafts')))
    with op.batch_alter_table('drafts') as batch_op:
        batch_op.create_index('uq_drafts_open_conversation', ['conversation_id'], unique=True,
                              postgresql_where=sa.text("status = 'open'"), sqlite_where=sa.text("status = 'open'"))
    op.create_table(
        'draft_entries',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('draft_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=12), nullable=False),
        sa.Column('text', sa.Text(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['draft_id'], ['drafts.id'], name=op.f('fk_draft_entries_draft_id_drafts'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_draft_entries')))
    with op.batch_alter_table('draft_entries') as batch_op:
        batch_op.create_index(batch_op.f('ix_draft_entries_draft_id'), ['draft_id'], unique=False)
    with op.batch_alter_table('attachments') as batch_op:
        batch_op.alter_column('case_id', existing_type=sa.Integer(), nullable=True)
        batch_op.add_column(sa.Column('draft_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_attachments_draft_id_drafts'), 'drafts', ['draft_id'], ['id'],
                                    ondelete='SET NULL')
        batch_op.create_index(batch_op.f('ix_attachments_draft_id'), ['draft_id'], unique=False)
    op.drop_table('rate_counters')
    op.drop_table('push_signatures')
    op.drop_table('submitted_pieces')
    op.drop_table('pushes')
