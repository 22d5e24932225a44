"""ingest: submissions, encounters, XML1..XML15 content, issues, facilities, keys

Revision ID: 0001
Revises: 
Create Date: 2026-11-25 17:54:35.093425
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

import mpi.store.types


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('api_key',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('prefix', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('key_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('role', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('facility_code', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
    sa.Column('label', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('revoked_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('api_key', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_key_prefix'), ['prefix'], unique=True)

    op.create_table('facility',
    sa.Column('code', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('first_seen_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('code')
    )
    op.create_table('submission',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('received_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('submitter', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('facility_code', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
    sa.Column('created_on', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
    sa.Column('declared_count', sa.Integer(), nullable=True),
    sa.Column('hoso_count', sa.Integer(), nullable=False),
    sa.Column('signature_present', sa.Boolean(), nullable=False),
    sa.Column('signature', sa.LargeBinary(), nullable=True),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('raw_gzip', sa.LargeBinary(), nullable=False),
    sa.Column('outcome', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('receipt', sa.JSON(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('submission', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_submission_sha256'), ['sha256'], unique=True)

    op.create_table('encounter',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('facility_code', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('ma_lk', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('is_current', sa.Boolean(), nullable=False),
    sa.Column('submission_id', sa.Integer(), nullable=False),
    sa.Column('hoso', sa.Integer(), nullable=False),
    sa.Column('content_sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('legacy_format', sa.Boolean(), nullable=False),
    sa.Column('tables', sa.JSON(), nullable=False),
    sa.Column('received_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['submission_id'], ['submission.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('facility_code', 'ma_lk', 'version', name='uq_encounter_version')
    )
    with op.batch_alter_table('encounter', schema=None) as batch_op:
        batch_op.create_index('ix_encounter_key', ['facility_code', 'ma_lk', 'is_current'], unique=False)
        batch_op.create_index(batch_op.f('ix_encounter_submission_id'), ['submission_id'], unique=False)

    op.create_table('validation_issue',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('submission_id', sa.Integer(), nullable=False),
    sa.Column('encounter_id', sa.Integer(), nullable=True),
    sa.Column('hoso', sa.Integer(), nullable=True),
    sa.Column('ma_lk', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
    sa.Column('path', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('table_name', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=True),
    sa.Column('row', sa.Integer(), nullable=True),
    sa.Column('field_name', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('code', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('severity', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('message_vi', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('message_en', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.ForeignKeyConstraint(['encounter_id'], ['encounter.id'], ),
    sa.ForeignKeyConstraint(['submission_id'], ['submission.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('validation_issue', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_validation_issue_code'), ['code'], unique=False)
        batch_op.create_index(batch_op.f('ix_validation_issue_encounter_id'), ['encounter_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_validation_issue_submission_id'), ['submission_id'], unique=False)

    op.create_table('xml1',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('encounter_id', sa.Integer(), nullable=False),
    sa.Column('row_no', sa.Integer(), nullable=False),
    sa.Column('ma_lk', sa.Text(), nullable=True),
    sa.Column('stt', sa.BigInteger(), nullable=True),
    sa.Column('ma_bn', sa.Text(), nullable=True),
    sa.Column('ho_ten', sa.Text(), nullable=True),
    sa.Column('so_cccd', sa.Text(), nullable=True),
    sa.Column('ngay_sinh', sa.DateTime(), nullable=True),
    sa.Column('ngay_sinh_precision', sa.String(length=6), nullable=True),
    sa.Column('gioi_tinh', sa.BigInteger(), nullable=True),
    sa.Column('nhom_mau', sa.Text(), nullable=True),
    sa.Column('ma_quoctich', sa.Text(), nullable=True),
    sa.Column('ma_dantoc', sa.Text(), nullable=True),
    sa.Column('ma_nghe_nghiep', sa.Text(), nullable=True),
    sa.Column('dia_chi', sa.Text(), nullable=True),
    sa.Column('matinh_cu_tru', sa.Text(), nullable=True),
    sa.Column('mahuyen_cu_tru', sa.Text(), nullable=True),
    sa.Column('maxa_cu_tru', sa.Text(), nullable=True),
    sa.Column('dien_thoai', sa.Text(), nullable=True),
    sa.Column('ma_the_bhyt', sa.JSON(), nullable=True),
    sa.Column('ma_dkbd', sa.JSON(), nullable=True),
    sa.Column('gt_the_tu', sa.JSON(), nullable=True),
    sa.Column('gt_the_den', sa.JSON(), nullable=True),
    sa.Column('ngay_mien_cct', sa.DateTime(), nullable=True),
    sa.Column('ngay_mien_cct_precision', sa.String(length=6), nullable=True),
    sa.Column('ly_do_vv', sa.Text(), nullable=True),
    sa.Column('ly_do_vnt', sa.Text(), nullable=True),
    sa.Column('ma_ly_do_vnt', sa.Text(), nullable=True),
    sa.Column('chan_doan_vao', sa.Text(), nullable=True),
    sa.Column('chan_doan_rv', sa.Text(), nullable=True),
    sa.Column('ma_benh_chinh', sa.Text(), nullable=True),
    sa.Column('ma_benh_kt', sa.JSON(), nullable=True),
    sa.Column('ma_benh_yhct', sa.JSON(), nullable=True),
    sa.Column('ma_pttt_qt', sa.JSON(), nullable=True),
    sa.Column('ma_doituong_kcb', sa.Text(), nullable=True),
    sa.Column('ma_noi_di', sa.Text(), nullable=True),
    sa.Column('ma_noi_den', sa.Text(), nullable=True),
    sa.Column('ma_tai_nan', sa.BigInteger(), nullable=True),
    sa.Column('ngay_vao', sa.DateTime(), nullable=True),
    sa.Column('ngay_vao_precision', sa.String(length=6), nullable=True),
    sa.Column('ngay_vao_noi_tru', sa.DateTime(), nullable=True),
    sa.Column('ngay_vao_noi_tru_precision', sa.String(length=6), nullable=True),
    sa.Column('ngay_ra', sa.DateTime(), nullable=True),
    sa.Column('ngay_ra_precision', sa.String(length=6), nullable=True),
    sa.Column('giay_chuyen_tuyen', sa.Text(), nullable=True),
    sa.Column('so_ngay_dtri', sa.BigInteger(), nullable=True),
    sa.Column('pp_dieu_tri', sa.Text(), nullable=True),
    sa.Column('ket_qua_dtri', sa.BigInteger(), nullable=True),
    sa.Column('ma_loai_rv', sa.BigInteger(), nullable=True),
    sa.Column('ghi_chu', sa.Text(), nullable=True),
    sa.Column('ngay_ttoan', sa.DateTime(), nullable=True),
    sa.Column('ngay_ttoan_precision', sa.String(length=6), nullable=True),
    sa.Column('t_thuoc', mpi.store.types.ExactDecimal(), nullable=True),
    sa.Column('t_vtyt', mpi.store.types.ExactDecimal(), nullable=True),
    sa.Column('t_tongchi_bv', mpi.store.types.ExactDecimal(), nullable=True),
    sa.Column('t_tongchi_bh', mpi.store.types.ExactDecimal(), nullable=True),
    sa.Column('t_bntt', mpi.store.types.ExactDecimal(), nullable=True),
    sa.Column('t_bncct', mpi.store.types.ExactDecimal(), nullable=True),
    sa.Column('t_bhtt', mpi.store.types.ExactDecimal(), nullable=True),
    sa.Column('t_nguonkhac', mpi.store.types.ExactDecimal(), nullable=True),
    sa.Column('t_bhtt_gdv', mpi.store.types.ExactDecimal(), nullable=True),
    sa.Column('nam_qt', sa.BigInteger(), nullable=True),
    sa.Column('thang_qt', sa.BigInteger(), nullable=True),
    sa.Column('ma_loai_kcb', sa.Text(), nullable=True),
    sa.Column('ma_khoa', sa.JSON(), nullable=True),
    sa.Column('ma_cskcb', sa.Text(), nullable=True),
    sa.Column('ma_khuvuc', sa.Text(), nullable=True),
    sa.Column('can_nang', sa.Text(), nullable=True),
    sa.Column('can_nang_con', sa.JSON(), nullable=True),
    sa.Column('nam_nam_lien_tuc', sa.DateTime(), nullable=True),
    sa.Column('nam_nam_lien_tuc_precision', sa.String(length=6), nullable=True),
    sa.Column('ngay_tai_kham', sa.JSON(), nullable=True),
    sa.Column('ma_hsba', sa.Text(), nullable=True),
    sa.Column('ma_ttdv', sa.Text(), nullable=True),
    sa.Column('du_phong', sa.Text(), nullable=True),
    sa.Column('raw', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['encounter_id'], ['encounter.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('xml1', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_xml1_encounter_id'), ['encounter_id'], unique=False)

    op.create_table('xml10',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('encounter_id', sa.Integer(), nullable=False),
    sa.Column('row_no', sa.Integer(), nullable=False),
    sa.Column('ma_lk', sa.Text(), nullable=True),
    sa.Column('so_seri', sa.Text(), nullable=True),
    sa.Column('so_ct', sa.Text(), nullable=True),
    sa.Column('so_ngay', sa.BigInteger(), nullable=True),
    sa.Column('don_vi', sa.Text(), nullable=True),
    sa.Column('chan_doan_rv', sa.Text(), nullable=True),
    sa.Column('tu_ngay', sa.DateTime(), nullable=True),
    sa.Column('tu_ngay_precision', sa.String(length=6), nullable=True),
    sa.Column('den_ngay', sa.DateTime(), nullable=True),
    sa.Column('den_ngay_precision', sa.String(length=6), nullable=True),
    sa.Column('ma_ttdv', sa.Text(), nullable=True),
    sa.Column('ten_bs', sa.Text(), nullable=True),
    sa.Column('ma_bs', sa.Text(), nullable=True),
    sa.Column('ngay_ct', sa.DateTime(), nullable=True),
    sa.Column('ngay_ct_precision', sa.String(length=6), nullable=True),
    sa.Column('du_phong', sa.Text(), nullable=True),
    sa.Column('raw', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['encounter_id'], ['encounter.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('xml10', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_xml10_encounter_id'), ['encounter_id'], unique=False)

    op.create_table('xml11',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('encounter_id', sa.Integer(), nullable=False),
    sa.Column('row_no', sa.Integer(), nullable=False),
    sa.Column('ma_lk', sa.Text(), nullable=True),
    sa.Column('so_ct', sa.Text(), nullable=True),
    sa.Column('so_seri', sa.Text(), nullable=True),
    sa.Column('so_kcb', sa.Text(), nullable=True),
    sa.Column('don_vi', sa.Text(), nullable=True),
    sa.Column('ma_bhxh', sa.Text(), nullable=True),
    sa.Column('ma_the_bhyt', sa.Text(), nullable=True),
    sa.Column('chan_doan_rv', sa.Text(), nullable=True),
    sa.Column('pp_dieutri', sa.Text(), nullable=True),
    sa.Column('ma_dinh_chi_thai', sa.BigInteger(), nullable=True),
    sa.Column('nguyennhan_dinhchi', sa.Text(), nullable=True),
    sa.Column('tuoi_thai', sa.BigInteger(), nullable=True),
    sa.Column('so_ngay_nghi', sa.BigInteger(), nullable=True),
    sa.Column('tu_ngay', sa.DateTime(), nullable=True),
    sa.Column('tu_ngay_precision', sa.String(length=6), nullable=True),
    sa.Column('den_ngay', sa.DateTime(), nullable=True),
    sa.Column('den_ngay_precision', sa.String(length=6), nullable=True),
    sa.Column('ho_ten_cha', sa.Text(), nullable=True),
    sa.Column('ho_ten_me', sa.Text(), nullable=True),
    sa.Column('ma_ttdv', sa.Text(), nullable=True),
    sa.Column('ma_bs', sa.Text(), nullable=True),
    sa.Column('ngay_ct', sa.DateTime(), nullable=True),
    sa.Column('ngay_ct_precision', sa.String(length=6), nullable=True),
    sa.Column('ma_the_tam', sa.Text(), nullable=True),
    sa.Column('mau_so', sa.Text(), nullable=True),
    sa.Column('du_phong', sa.Text(), nullable=True),
    sa.Column('raw', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['encounter_id'], ['encounter.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('xml11', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_xml11_encounter_id'), ['encounter_id'], unique=False)

    op.create_table('xml12',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('encounter_id', sa.Integer(), nullable=False),
    sa.Column('row_no', sa.Integer(), nullable=False),
    sa.Column('nguoi_chu_tri', sa.Text(), nullable=True),
    sa.Column('chuc_vu', sa.BigInteger(), nullable=True),
    sa.Column('ngay_hop', sa.DateTime(), nullable=True),
    sa.Column('ngay_hop_precision', sa.String(length=6), nullable=True),
    sa.Column('ho_ten', sa.Text(), nullable=True),
    sa.Column('ngay_sinh', sa.DateTime(), nullable=True),
    sa.Column('ngay_sinh_precision', sa.String(length=6), nullable=True),
    sa.Column('so_cccd', sa.Text(), nullable=True),
    sa.Column('ngay_cap_cccd', sa.DateTime(), nullable=True),
    sa.Column('ngay_cap_cccd_precision', sa.String(length=6), nullable=True),
    sa.Column('noi_cap_cccd', sa.Text(), nullable=True),
    sa.Column('dia_chi', sa.Text(), nullable=True),
    sa.Column('matinh_cu_tru', sa.Text(), nullable=True),
    sa.Column('mahuyen_cu_tru', sa.Text(), nullable=True),
    sa.Column('maxa_cu_tru', sa.Text(), nullable=True),
    sa.Column('ma_bhxh', sa.Text(), nullable=True),
    sa.Column('ma_the_bhyt', sa.Text(), nullable=True),
    sa.Column('nghe_nghiep', sa.Text(), nullable=True),
    sa.Column('dien_thoai', sa.Text(), nullable=True),
    sa.Column('ma_doi_tuong', sa.Text(), nullable=True),
    sa.Column('kham_giam_dinh', sa.BigInteger(), nullable=True),
    sa.Column('so_bien_ban', sa.Text(), nullable=True),
    sa.Column('tyle_ttct_cu', sa.BigInteger(), nullable=True),
    sa.Column('dang_huong_che_do', sa.Text(), nullable=True),
    sa.Column('ngay_chung_tu', sa.DateTime(), nullable=True),
    sa.Column('ngay_chung_tu_precision', sa.String(length=6), nullable=True),
    sa.Column('so_giay_gioi_thieu', sa.Text(), nullable=True),
    sa.Column('ngay_de_nghi', sa.DateTime(), nullable=True),
    sa.Column('ngay_de_nghi_precision', sa.String(length=6), nullable=True),
    sa.Column('ma_donvi', sa.Text(), nullable=True),
    sa.Column('gioi_thieu_cua', sa.Text(), nullable=True),
    sa.Column('ket_qua_kham', sa.Text(), nullable=True),
    sa.Column('so_van_ban_can_cu', sa.Text(), nullable=True),
    sa.Column('tyle_ttct_moi', sa.BigInteger(), nullable=True),
    sa.Column('tong_tyle_ttct', sa.BigInteger(), nullable=True),
    sa.Column('dang_khuyettat', sa.BigInteger(), nullable=True),
    sa.Column('muc_do_khuyettat', sa.BigInteger(), nullable=True),
    sa.Column('de_nghi', sa.Text(), nullable=True),
    sa.Column('duoc_xacdinh', sa.Text(), nullable=True),
    sa.Column('du_phong', sa.Text(), nullable=True),
    sa.Column('raw', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['encounter_id'], ['encounter.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('xml12', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_xml12_encounter_id'), ['encounter_id'], unique=False)

    op.create_table('xml13',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('encounter_id', sa.Integer(), nullable=False),
    sa.Column('row_no', sa.Integer(), nullable=False),
    sa.Column('ma_lk', sa.Text(), nullable=True),
    sa.Column('so_hoso', sa.Text(), nullable=True),
    sa.Column('so_chuyentuyen', sa.Text(), nullable=True),
    sa.Column('giay_chuyen_tuyen', sa.Text(), nullable=True),
    sa.Column('ma_cskcb', sa.Text(), nullable=True),
    sa.Column('ma_noi_di', sa.Text(), nullable=True),
    sa.Column('ma_noi_den', sa.Text(), nullable=True),
    sa.Column('ho_ten', sa.Text(), nullable=True),
    sa.Column('ngay_sinh', sa.DateTime(), nullable=True),
    sa.Column('ngay_sinh_precision', sa.String(length=6), nullable=True),
    sa.Column('gioi_tinh', sa.BigInteger(), nullable=True),
    sa.Column('ma_quoctich', sa.Text(), nullable=True),
    sa.Column('ma_dantoc', sa.Text(), nullable=True),
    sa.Column('ma_nghe_nghiep', sa.Text(), nullable=True),
    sa.Column('dia_chi', sa.Text(), nullable=True),
    sa.Column('ma_the_bhyt', sa.JSON(), nullable=True),
    sa.Column('gt_the_den', sa.Text(), nullable=True),
    sa.Column('ngay_vao', sa.DateTime(), nullable=True),
    sa.Column('ngay_vao_precision', sa.String(length=6), nullable=True),
    sa.Column('ngay_vao_noi_tru', sa.DateTime(), nullable=True),
    sa.Column('ngay_vao_noi_tru_precision', sa.String(length=6), nullable=True),
    sa.Column('ngay_ra', sa.DateTime(), nullable=True),
    sa.Column('ngay_ra_precision', sa.String(length=6), nullable=True),
    sa.Column('dau_hieu_ls', sa.Text(), nullable=True),
    sa.Column('chan_doan_rv', sa.Text(), nullable=True),
    sa.Column('qt_benhly', sa.Text(), nullable=True),
    sa.Column('tomtat_kq', sa.Text(), nullable=True),
    sa.Column('pp_dieutri', sa.Text(), nullable=True),
    sa.Column('ma_benh_chinh', sa.Text(), nullable=True),
    sa.Column('ma_benh_kt', sa.JSON(), nullable=True),
    sa.Column('ma_benh_yhct', sa.Text(), nullable=True),
    sa.Column('ten_dich_vu', sa.Text(), nullable=True),
    sa.Column('ten_thuoc', sa.Text(), nullable=True),
    sa.Column('pp_dieu_tri', sa.Text(), nullable=True),
    sa.Column('ma_loai_rv', sa.BigInteger(), nullable=True),
    sa.Column('ma_lydo_ct', sa.BigInteger(), nullable=True),
    sa.Column('huong_dieu_tri', sa.Text(), nullable=True),
    sa.Column('phuongtien_vc', sa.Text(), nullable=True),
    sa.Column('hoten_nguoi_ht', sa.Text(), nullable=True),
    sa.Column('chucdanh_nguoi_ht', sa.Text(), nullable=True),
    sa.Column('ma_bac_si', sa.Text(), nullable=True),
    sa.Column('ma_ttdv', sa.Text(), nullable=True),
    sa.Column('du_phong', sa.Text(), nullable=True),
    sa.Column('raw', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['encounter_id'], ['encounter.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('xml13', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_xml13_encounter_id'), ['encounter_id'], unique=False)

    op.create_table('xml14',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('encounter_id', sa.Integer(), nullable=False),
    sa.Column('row_no', sa.Integer(), nullable=False),
    sa.Column('ma_lk', sa.Text(), nullable=True),
    sa.Column('so_giayhen_kl', sa.Text(), nullable=True),
    sa.Column('ma_cskcb', sa.Text(), nullable=True),
    sa.Column('ho_ten', sa.Text(), nullable=True),
    sa.Column('ngay_sinh', sa.DateTime(), nullable=True),
    sa.Column('ngay_sinh_precision', sa.String(length=6), nullable=True),
    sa.Column('gioi_tinh', sa.BigInteger(), nullable=True),
    sa.Column('dia_chi', sa.Text(), nullable=True),
    sa.Column('ma_the_bhyt', sa.JSON(), nullable=True),
    sa.Column('gt_the_den', sa.Text(), nullable=True),
    sa.Column('ngay_vao', sa.DateTime(), nullable=True),
    sa.Column('ngay_vao_precision', sa.String(length=6), nullable=True),
    sa.Column('ngay_vao_noi_tru', sa.DateTime(), nullable=True),
    sa.Column('ngay_vao_noi_tru_precision', sa.String(length=6), nullable=True),
    sa.Column('ngay_ra', sa.DateTime(), nullable=True),
    sa.Column('ngay_ra_precision', sa.String(length=6), nullable=True),
    sa.Column('ngay_hen_kl', sa.DateTime(), nullable=True),
    sa.Column('ngay_hen_kl_precision', sa.String(length=6), nullable=True),
    sa.Column('chan_doan_rv', sa.Text(), nullable=True),
    sa.Column('ma_benh_chinh', sa.Text(), nullable=True),
    sa.Column('ma_benh_kt', sa.JSON(), nullable=True),
    sa.Column('ma_benh_yhct', sa.Text(), nullable=True),
    sa.Column('ma_doituong_kcb', sa.Text(), nullable=True),
    sa.Column('ma_bac_si', sa.Text(), nullable=True),
    sa.Column('ma_ttdv', sa.Text(), nullable=True),
    sa.Column('ngay_ct', sa.DateTime(), nullable=True),
    sa.Column('ngay_ct_precision', sa.String(length=6), nullable=True),
    sa.Column('du_phong', sa.Text(), nullable=True),
    sa.Column('raw', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['encounter_id'], ['encounter.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('xml14', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_xml14_encounter_id'), ['encounter_id'], unique=False)

    op.create_table('xml15',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('encounter_id', sa.Integer(), nullable=False),
    sa.Column('row_no', sa.Integer(), nullable=False),
    sa.Column('ma_lk', sa.Text(), nullable=True),
    sa.Column('stt', sa.BigInteger(), nullable=True),
    sa.Column('ma_bn', sa.Text(), nullable=True),
    sa.Column('ho_ten', sa.Text(), nullable=True),
    sa.Column('so_cccd', sa.Text(), nullable=True),
    sa.Column('phanloai_lao_vitri', sa.BigInteger(), nullable=True),
    sa.Column('phanloai_lao_ts', sa.BigInteger(), nullable=True),
    sa.Column('phanloai_lao_hiv', sa.BigInteger(), nullable=True),
    sa.Column('phanloai_lao_vk', sa.BigInteger(), nullable=True),
    sa.Column('phanloai_lao_kt', sa.BigInteger(), nullable=True),
    sa.Column('loai_dtri_lao', sa.BigInteger(), nullable=True),
    sa.Column('ngaybd_dtri_lao', sa.DateTime(), nullable=True),
    sa.Column('ngaybd_dtri_lao_precision', sa.String(length=6), nullable=True),
    sa.Column('phacdo_dtri_lao', sa.BigInteger(), nullable=True),
    sa.Column('ngaykt_dtri_lao', sa.DateTime(), nullable=True),
    sa.Column('ngaykt_dtri_lao_precision', sa.String(length=6), nullable=True),
    sa.Column('ket_qua_dtri_lao', sa.BigInteger(), nullable=True),
    sa.Column('ma_cskcb', sa.Text(), nullable=True),
    sa.Column('ngaykd_hiv', sa.DateTime(), nullable=True),
    sa.Column('ngaykd_hiv_precision', sa.String(length=6), nullable=True),
    sa.Column('bddt_arv', sa.DateTime(), nullable=True),
    sa.Column('bddt_arv_precision', sa.String(length=6), nullable=True),
    sa.Column('ngay_bat_dau_dt_ctx', sa.DateTime(), nullable=True),
    sa.Column('ngay_bat_dau_dt_ctx_precision', sa.String(length=6), nullable=True),
    sa.Column('du_phong', sa.Text(), nullable=True),
    sa.Column('raw', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['encounter_id'], ['encounter.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('xml15', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_xml15_encounter_id'), ['encounter_id'], unique=False)

    op.create_table('xml2',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('encounter_id', sa.Integer(), nullable=False),
    sa.Column('row_no', sa.Integer(), nullable=False),
    sa.Column('ma_lk', sa.Text(), nullable=True),
    sa.Column('stt', sa.BigInteger(), nullable=True),
    sa.Column('ma_thuoc', sa.Text(), nullable=True),
    sa.Column('ma_pp_chebien', sa.Text(), nullable=True),
    sa.Column('ma_cskcb_thuoc', sa.Text(), nullable=True),
    sa.Column('ma_nhom', sa.BigInteger(), nullable=True),
    sa.Column('ten_thuoc', sa.Text(), nullable=True),
    sa.Column('don_vi_tinh', sa.Text(), nullable=True),
    sa.Column('ham_luong', sa.Text(), nullable=True),
    sa.Column('duong_dung', sa.Text(), nullable=True),
    sa.Column('dang_bao_che', sa.Text(), nullable=True),
    sa.Column('lieu_dung', sa.Text(), nullable=True),
    sa.Column('cach_dung', sa.Text(), nullable=True),
    sa.Column('so_dang_ky', sa.Text(), nullable=True),
    sa.Column('tt_thau', sa.Text(), nullable=True),
    sa.Column('pham_vi', sa.BigInteger(), nullable=True),
    sa.Column('tyle_tt_bh', sa.BigInteger(), nullable=True),
    sa.Column('so_luong', mpi.store.types.ExactDecimal(), nullable=True),
    sa.Column('don_gia', mpi.store.types.ExactDecimal(), nullable=True),
    sa.Column('thanh_tien_bv', mpi.store.types.ExactDecimal(), nullable=True),
    sa.Column('thanh_tien_bh', mpi.store.types.ExactDecimal(), nullable=True),
    sa.Column('t_nguonkhac_nsnn', mpi.store.types.ExactDecimal(), nullable=True),
    sa.Column('t_nguonkhac_vtnn', mpi.store.types.ExactDecimal(), nullable=True),
    sa.Column('t_nguonkhac_vttn', mpi.store.types.ExactDecimal(), nullable=True),
    sa.Column('t_nguonkhac_cl', mpi.store.types.ExactDecimal(), nullable=True),
    sa.Column('t_nguonkhac', mpi.store.types.ExactDecimal(), nullable=True),
    sa.Column('muc_huong', sa.BigInteger(), nullable=True),
    sa.Column('t_bntt', mpi.store.types.ExactDecimal(), nullable=True),
    sa.Column('t_bncct', mpi.store.types.ExactDecimal(), nullable=True),
    sa.Column('t_bhtt', mpi.store.types.ExactDecimal(), nullable=True),
    sa.Column('ma_khoa', sa.Text(), nullable=True),
    sa.Column('ma_bac_si', sa.JSON(), nullable=True),
    sa.Column('ma_dich_vu', sa.JSON(), nullable=True),
    sa.Column('ngay_yl', sa.DateTime(), nullable=True),
    sa.Column('ngay_yl_precision', sa.String(length=6), nullable=True),
    sa.Column('ngay_th_yl', sa.DateTime(), nullable=True),
    sa.Column('ngay_th_yl_precision', sa.String(length=6), nullable=True),
    sa.Column('ma_pttt', sa.BigInteger(), nullable=True),
    sa.Column('nguon_ctra', sa.BigInteger(), nullable=True),
    sa.Column('vet_thuong_tp', sa.BigInteger(), nullable=True),
    sa.Column('du_phong', sa.Text(), nullable=True),
    sa.Column('raw', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['encounter_id'], ['encounter.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('xml2', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_xml2_encounter_id'), ['encounter_id'], unique=False)

    op.create_table('xml3',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('encounter_id', sa.Integer(), nullable=False),
    sa.Column('row_no', sa.Integer(), nullable=False),
    sa.Column('ma_lk', sa.Text(), nullable=True),
    sa.Column('stt', sa.BigInteger(), nullable=True),
    sa.Column('ma_dich_vu', sa.Text(), nullable=True),
    sa.Column('ma_pttt_qt', sa.Text(), nullable=True),
    sa.Column('ma_vat_tu', sa.Text(), nullable=True),
    sa.Column('ma_nhom', sa.BigInteger(), nullable=True),
    sa.Column('goi_vtyt', sa.Text(), nullable=True),
    sa.Column('ten_vat_tu', sa.Text(), nullable=True),
    sa.Column('ten_dich_vu', sa.Text(), nullable=True),
    sa.Column('ma_xang_dau', sa.Text(), nullable=True),
    sa.Column('don_vi_tinh', sa.Text(), nullable=True),
    sa.Column('pham_vi', sa.BigInteger(), nullable=True),
    sa.Column('so_luong', mpi.store.types.ExactDecimal(), nullable=True),
    sa.Column('don_gia_bv', mpi.store.types.ExactDecimal(), nullable=True),
    sa.Column('don_gia_bh', mpi.store.types.ExactDecimal(), nullable=True),
    sa.Column('tt_thau', sa.Text(), nullable=True),
    sa.Column('tyle_tt_dv', sa.BigInteger(), nullable=True),
    sa.Column('tyle_tt_bh', sa.BigInteger(), nullable=True),
    sa.Column('thanh_tien_bv', mpi.store.types.ExactDecimal(), nullable=True),
    sa.Column('thanh_tien_bh', mpi.store.types.ExactDecimal(), nullable=True),
    sa.Column('t_trantt', mpi.store.types.ExactDecimal(), nullable=True),
    sa.Column('muc_huong', sa.BigInteger(), nullable=True),
    sa.Column('t_nguonkhac_nsnn', mpi.store.types.ExactDecimal(), nullable=True),
    sa.Column('t_nguonkhac_vtnn', mpi.store.types.ExactDecimal(), nullable=True),
    sa.Column('t_nguonkhac_vttn', mpi.store.types.ExactDecimal(), nullable=True),
    sa.Column('t_nguonkhac_cl', mpi.store.types.ExactDecimal(), nullable=True),
    sa.Column('t_nguonkhac', mpi.store.types.ExactDecimal(), nullable=True),
    sa.Column('t_bntt', mpi.store.types.ExactDecimal(), nullable=True),
    sa.Column('t_bncct', mpi.store.types.ExactDecimal(), nullable=True),
    sa.Column('t_bhtt', mpi.store.types.ExactDecimal(), nullable=True),
    sa.Column('ma_khoa', sa.Text(), nullable=True),
    sa.Column('ma_giuong', sa.JSON(), nullable=True),
    sa.Column('ma_bac_si', sa.JSON(), nullable=True),
    sa.Column('nguoi_thuc_hien', sa.JSON(), nullable=True),
    sa.Column('ma_benh', sa.Text(), nullable=True),
    sa.Column('ma_benh_yhct', sa.Text(), nullable=True),
    sa.Column('ngay_yl', sa.DateTime(), nullable=True),
    sa.Column('ngay_yl_precision', sa.String(length=6), nullable=True),
    sa.Column('ngay_th_yl', sa.DateTime(), nullable=True),
    sa.Column('ngay_th_yl_precision', sa.String(length=6), nullable=True),
    sa.Column('ngay_kq', sa.DateTime(), nullable=True),
    sa.Column('ngay_kq_precision', sa.String(length=6), nullable=True),
    sa.Column('ma_pttt', sa.BigInteger(), nullable=True),
    sa.Column('vet_thuong_tp', sa.BigInteger(), nullable=True),
    sa.Column('pp_vo_cam', sa.BigInteger(), nullable=True),
    sa.Column('vi_tri_th_dvkt', sa.BigInteger(), nullable=True),
    sa.Column('ma_may', sa.Text(), nullable=True),
    sa.Column('ma_hieu_sp', sa.Text(), nullable=True),
    sa.Column('tai_su_dung', sa.BigInteger(), nullable=True),
    sa.Column('du_phong', sa.Text(), nullable=True),
    sa.Column('raw', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['encounter_id'], ['encounter.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('xml3', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_xml3_encounter_id'), ['encounter_id'], unique=False)

    op.create_table('xml4',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('encounter_id', sa.Integer(), nullable=False),
    sa.Column('row_no', sa.Integer(), nullable=False),
    sa.Column('ma_lk', sa.Text(), nullable=True),
    sa.Column('stt', sa.BigInteger(), nullable=True),
    sa.Column('ma_dich_vu', sa.Text(), nullable=True),
    sa.Column('ma_chi_so', sa.Text(), nullable=True),
    sa.Column('ten_chi_so', sa.Text(), nullable=True),
    sa.Column('gia_tri', sa.Text(), nullable=True),
    sa.Column('don_vi_do', sa.Text(), nullable=True),
    sa.Column('mo_ta', sa.Text(), nullable=True),
    sa.Column('ket_luan', sa.Text(), nullable=True),
    sa.Column('ngay_kq', sa.DateTime(), nullable=True),
    sa.Column('ngay_kq_precision', sa.String(length=6), nullable=True),
    sa.Column('ma_bs_doc_kq', sa.Text(), nullable=True),
    sa.Column('du_phong', sa.Text(), nullable=True),
    sa.Column('raw', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['encounter_id'], ['encounter.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('xml4', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_xml4_encounter_id'), ['encounter_id'], unique=False)

    op.create_table('xml5',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('encounter_id', sa.Integer(), nullable=False),
    sa.Column('row_no', sa.Integer(), nullable=False),
    sa.Column('ma_lk', sa.Text(), nullable=True),
    sa.Column('stt', sa.BigInteger(), nullable=True),
    sa.Column('dien_bien_ls', sa.Text(), nullable=True),
    sa.Column('giai_doan_benh', sa.Text(), nullable=True),
    sa.Column('hoi_chan', sa.Text(), nullable=True),
    sa.Column('phau_thuat', sa.Text(), nullable=True),
    sa.Column('thoi_diem_dbls', sa.DateTime(), nullable=True),
    sa.Column('thoi_diem_dbls_precision', sa.String(length=6), nullable=True),
    sa.Column('nguoi_thuc_hien', sa.JSON(), nullable=True),
    sa.Column('du_phong', sa.Text(), nullable=True),
    sa.Column('raw', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['encounter_id'], ['encounter.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('xml5', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_xml5_encounter_id'), ['encounter_id'], unique=False)

    op.create_table('xml6',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('encounter_id', sa.Integer(), nullable=False),
    sa.Column('row_no', sa.Integer(), nullable=False),
    sa.Column('ma_lk', sa.Text(), nullable=True),
    sa.Column('ma_the_bhyt', sa.Text(), nullable=True),
    sa.Column('so_cccd', sa.Text(), nullable=True),
    sa.Column('ngay_sinh', sa.DateTime(), nullable=True),
    sa.Column('ngay_sinh_precision', sa.String(length=6), nullable=True),
    sa.Column('gioi_tinh', sa.BigInteger(), nullable=True),
    sa.Column('dia_chi', sa.Text(), nullable=True),
    sa.Column('matinh_cu_tru', sa.Text(), nullable=True),
    sa.Column('mahuyen_cu_tru', sa.Text(), nullable=True),
    sa.Column('maxa_cu_tru', sa.Text(), nullable=True),
    sa.Column('ngaykd_hiv', sa.DateTime(), nullable=True),
    sa.Column('ngaykd_hiv_precision', sa.String(length=6), nullable=True),
    sa.Column('noi_lay_mau_xn', sa.Text(), nullable=True),
    sa.Column('noi_xn_kd', sa.Text(), nullable=True),
    sa.Column('noi_bddt_arv', sa.Text(), nullable=True),
    sa.Column('bddt_arv', sa.DateTime(), nullable=True),
    sa.Column('bddt_arv_precision', sa.String(length=6), nullable=True),
    sa.Column('ma_phac_do_dieu_tri_bd', sa.Text(), nullable=True),
    sa.Column('ma_bac_phac_do_bd', sa.BigInteger(), nullable=True),
    sa.Column('ma_lydo_dtri', sa.BigInteger(), nullable=True),
    sa.Column('loai_dtri_lao', sa.BigInteger(), nullable=True),
    sa.Column('sang_loc_lao', sa.BigInteger(), nullable=True),
    sa.Column('phacdo_dtri_lao', sa.BigInteger(), nullable=True),
    sa.Column('ngaybd_dtri_lao', sa.DateTime(), nullable=True),
    sa.Column('ngaybd_dtri_lao_precision', sa.String(length=6), nullable=True),
    sa.Column('ngaykt_dtri_lao', sa.DateTime(), nullable=True),
    sa.Column('ngaykt_dtri_lao_precision', sa.String(length=6), nullable=True),
    sa.Column('kq_dtri_lao', sa.BigInteger(), nullable=True),
    sa.Column('ma_lydo_xntl_vr', sa.BigInteger(), nullable=True),
    sa.Column('ngay_xn_tlvr', sa.DateTime(), nullable=True),
    sa.Column('ngay_xn_tlvr_precision', sa.String(length=6), nullable=True),
    sa.Column('kq_xntl_vr', sa.BigInteger(), nullable=True),
    sa.Column('ngay_kq_xn_tlvr', sa.DateTime(), nullable=True),
    sa.Column('ngay_kq_xn_tlvr_precision', sa.String(length=6), nullable=True),
    sa.Column('ma_loai_bn', sa.BigInteger(), nullable=True),
    sa.Column('giai_doan_lam_sang', sa.BigInteger(), nullable=True),
    sa.Column('nhom_doi_tuong', sa.BigInteger(), nullable=True),
    sa.Column('ma_tinh_trang_dk', sa.JSON(), nullable=True),
    sa.Column('lan_xn_pcr', sa.BigInteger(), nullable=True),
    sa.Column('ngay_xn_pcr', sa.DateTime(), nullable=True),
    sa.Column('ngay_xn_pcr_precision', sa.String(length=6), nullable=True),
    sa.Column('ngay_kq_xn_pcr', sa.DateTime(), nullable=True),
    sa.Column('ngay_kq_xn_pcr_precision', sa.String(length=6), nullable=True),
    sa.Column('ma_kq_xn_pcr', sa.BigInteger(), nullable=True),
    sa.Column('ngay_nhan_tt_mang_thai', sa.DateTime(), nullable=True),
    sa.Column('ngay_nhan_tt_mang_thai_precision', sa.String(length=6), nullable=True),
    sa.Column('ngay_bat_dau_dt_ctx', sa.DateTime(), nullable=True),
    sa.Column('ngay_bat_dau_dt_ctx_precision', sa.String(length=6), nullable=True),
    sa.Column('ma_xu_tri', sa.JSON(), nullable=True),
    sa.Column('ngay_bat_dau_xu_tri', sa.DateTime(), nullable=True),
    sa.Column('ngay_bat_dau_xu_tri_precision', sa.String(length=6), nullable=True),
    sa.Column('ngay_ket_thuc_xu_tri', sa.DateTime(), nullable=True),
    sa.Column('ngay_ket_thuc_xu_tri_precision', sa.String(length=6), nullable=True),
    sa.Column('ma_phac_do_dieu_tri', sa.Text(), nullable=True),
    sa.Column('ma_bac_phac_do', sa.BigInteger(), nullable=True),
    sa.Column('so_ngay_cap_thuoc_arv', sa.BigInteger(), nullable=True),
    sa.Column('ngay_chuyen_phac_do', sa.DateTime(), nullable=True),
    sa.Column('ngay_chuyen_phac_do_precision', sa.String(length=6), nullable=True),
    sa.Column('ly_do_chuyen_phac_do', sa.BigInteger(), nullable=True),
    sa.Column('ma_cskcb', sa.Text(), nullable=True),
    sa.Column('du_phong', sa.Text(), nullable=True),
    sa.Column('raw', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['encounter_id'], ['encounter.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('xml6', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_xml6_encounter_id'), ['encounter_id'], unique=False)

    op.create_table('xml7',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('encounter_id', sa.Integer(), nullable=False),
    sa.Column('row_no', sa.Integer(), nullable=False),
    sa.Column('ma_lk', sa.Text(), nullable=True),
    sa.Column('so_luu_tru', sa.Text(), nullable=True),
    sa.Column('ma_yte', sa.Text(), nullable=True),
    sa.Column('ma_khoa_rv', sa.Text(), nullable=True),
    sa.Column('ngay_vao', sa.DateTime(), nullable=True),
    sa.Column('ngay_vao_precision', sa.String(length=6), nullable=True),
    sa.Column('ngay_ra', sa.DateTime(), nullable=True),
    sa.Column('ngay_ra_precision', sa.String(length=6), nullable=True),
    sa.Column('ma_dinh_chi_thai', sa.BigInteger(), nullable=True),
    sa.Column('nguyennhan_dinhchi', sa.Text(), nullable=True),
    sa.Column('thoigian_dinhchi', sa.DateTime(), nullable=True),
    sa.Column('thoigian_dinhchi_precision', sa.String(length=6), nullable=True),
    sa.Column('tuoi_thai', sa.BigInteger(), nullable=True),
    sa.Column('chan_doan_rv', sa.Text(), nullable=True),
    sa.Column('pp_dieutri', sa.Text(), nullable=True),
    sa.Column('ghi_chu', sa.Text(), nullable=True),
    sa.Column('ma_ttdv', sa.Text(), nullable=True),
    sa.Column('ma_bs', sa.Text(), nullable=True),
    sa.Column('ten_bs', sa.Text(), nullable=True),
    sa.Column('ngay_ct', sa.DateTime(), nullable=True),
    sa.Column('ngay_ct_precision', sa.String(length=6), nullable=True),
    sa.Column('ma_cha', sa.Text(), nullable=True),
    sa.Column('ma_me', sa.Text(), nullable=True),
    sa.Column('ma_the_tam', sa.Text(), nullable=True),
    sa.Column('ho_ten_cha', sa.Text(), nullable=True),
    sa.Column('ho_ten_me', sa.Text(), nullable=True),
    sa.Column('so_ngay_nghi', sa.BigInteger(), nullable=True),
    sa.Column('ngoaitru_tungay', sa.DateTime(), nullable=True),
    sa.Column('ngoaitru_tungay_precision', sa.String(length=6), nullable=True),
    sa.Column('ngoaitru_denngay', sa.DateTime(), nullable=True),
    sa.Column('ngoaitru_denngay_precision', sa.String(length=6), nullable=True),
    sa.Column('du_phong', sa.Text(), nullable=True),
    sa.Column('raw', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['encounter_id'], ['encounter.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('xml7', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_xml7_encounter_id'), ['encounter_id'], unique=False)

    op.create_table('xml8',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('encounter_id', sa.Integer(), nullable=False),
    sa.Column('row_no', sa.Integer(), nullable=False),
    sa.Column('ma_lk', sa.Text(), nullable=True),
    sa.Column('ma_loai_kcb', sa.Text(), nullable=True),
    sa.Column('ho_ten_cha', sa.Text(), nullable=True),
    sa.Column('ho_ten_me', sa.Text(), nullable=True),
    sa.Column('nguoi_giam_ho', sa.Text(), nullable=True),
    sa.Column('don_vi', sa.Text(), nullable=True),
    sa.Column('ngay_vao', sa.DateTime(), nullable=True),
    sa.Column('ngay_vao_precision', sa.String(length=6), nullable=True),
    sa.Column('ngay_ra', sa.DateTime(), nullable=True),
    sa.Column('ngay_ra_precision', sa.String(length=6), nullable=True),
    sa.Column('chan_doan_vao', sa.Text(), nullable=True),
    sa.Column('chan_doan_rv', sa.Text(), nullable=True),
    sa.Column('qt_benhly', sa.Text(), nullable=True),
    sa.Column('tomtat_kq', sa.Text(), nullable=True),
    sa.Column('pp_dieutri', sa.Text(), nullable=True),
    sa.Column('ngay_sinhcon', sa.DateTime(), nullable=True),
    sa.Column('ngay_sinhcon_precision', sa.String(length=6), nullable=True),
    sa.Column('ngay_conchet', sa.DateTime(), nullable=True),
    sa.Column('ngay_conchet_precision', sa.String(length=6), nullable=True),
    sa.Column('so_conchet', sa.BigInteger(), nullable=True),
    sa.Column('ket_qua_dtri', sa.BigInteger(), nullable=True),
    sa.Column('ghi_chu', sa.Text(), nullable=True),
    sa.Column('ma_ttdv', sa.Text(), nullable=True),
    sa.Column('ngay_ct', sa.DateTime(), nullable=True),
    sa.Column('ngay_ct_precision', sa.String(length=6), nullable=True),
    sa.Column('ma_the_tam', sa.Text(), nullable=True),
    sa.Column('du_phong', sa.Text(), nullable=True),
    sa.Column('raw', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['encounter_id'], ['encounter.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('xml8', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_xml8_encounter_id'), ['encounter_id'], unique=False)

    op.create_table('xml9',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('encounter_id', sa.Integer(), nullable=False),
    sa.Column('row_no', sa.Integer(), nullable=False),
    sa.Column('ma_lk', sa.Text(), nullable=True),
    sa.Column('ma_bhxh_nnd', sa.Text(), nullable=True),
    sa.Column('ma_the_nnd', sa.Text(), nullable=True),
    sa.Column('ho_ten_nnd', sa.Text(), nullable=True),
    sa.Column('ngaysinh_nnd', sa.DateTime(), nullable=True),
    sa.Column('ngaysinh_nnd_precision', sa.String(length=6), nullable=True),
    sa.Column('ma_dantoc_nnd', sa.Text(), nullable=True),
    sa.Column('so_cccd_nnd', sa.Text(), nullable=True),
    sa.Column('ngaycap_cccd_nnd', sa.DateTime(), nullable=True),
    sa.Column('ngaycap_cccd_nnd_precision', sa.String(length=6), nullable=True),
    sa.Column('noicap_cccd_nnd', sa.Text(), nullable=True),
    sa.Column('noi_cu_tru_nnd', sa.Text(), nullable=True),
    sa.Column('ma_quoctich', sa.Text(), nullable=True),
    sa.Column('matinh_cu_tru', sa.Text(), nullable=True),
    sa.Column('mahuyen_cu_tru', sa.Text(), nullable=True),
    sa.Column('maxa_cu_tru', sa.Text(), nullable=True),
    sa.Column('ho_ten_cha', sa.Text(), nullable=True),
    sa.Column('ma_the_tam', sa.Text(), nullable=True),
    sa.Column('ho_ten_con', sa.Text(), nullable=True),
    sa.Column('gioi_tinh_con', sa.BigInteger(), nullable=True),
    sa.Column('so_con', sa.BigInteger(), nullable=True),
    sa.Column('lan_sinh', sa.BigInteger(), nullable=True),
    sa.Column('so_con_song', sa.BigInteger(), nullable=True),
    sa.Column('can_nang_con', mpi.store.types.ExactDecimal(), nullable=True),
    sa.Column('ngay_sinh_con', sa.DateTime(), nullable=True),
    sa.Column('ngay_sinh_con_precision', sa.String(length=6), nullable=True),
    sa.Column('noi_sinh_con', sa.Text(), nullable=True),
    sa.Column('tinh_trang_con', sa.Text(), nullable=True),
    sa.Column('sinhcon_phauthuat', sa.BigInteger(), nullable=True),
    sa.Column('sinhcon_duoi32tuan', sa.BigInteger(), nullable=True),
    sa.Column('ghi_chu', sa.Text(), nullable=True),
    sa.Column('nguoi_do_de', sa.Text(), nullable=True),
    sa.Column('nguoi_ghi_phieu', sa.Text(), nullable=True),
    sa.Column('ngay_ct', sa.DateTime(), nullable=True),
    sa.Column('ngay_ct_precision', sa.String(length=6), nullable=True),
    sa.Column('so', sa.Text(), nullable=True),
    sa.Column('quyen_so', sa.Text(), nullable=True),
    sa.Column('ma_ttdv', sa.Text(), nullable=True),
    sa.Column('du_phong', sa.Text(), nullable=True),
    sa.Column('raw', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['encounter_id'], ['encounter.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('xml9', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_xml9_encounter_id'), ['encounter_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('xml9', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_xml9_encounter_id'))

    op.drop_table('xml9')
    with op.batch_alter_table('xml8', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_xml8_encounter_id'))

    op.drop_table('xml8')
    with op.batch_alter_table('xml7', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_xml7_encounter_id'))

    op.drop_table('xml7')
    with op.batch_alter_table('xml6', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_xml6_encounter_id'))

    op.drop_table('xml6')
    with op.batch_alter_table('xml5', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_xml5_encounter_id'))

    op.drop_table('xml5')
    with op.batch_alter_table('xml4', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_xml4_encounter_id'))

    op.drop_table('xml4')
    with op.batch_alter_table('xml3', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_xml3_encounter_id'))

    op.drop_table('xml3')
    with op.batch_alter_table('xml2', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_xml2_encounter_id'))

    op.drop_table('xml2')
    with op.batch_alter_table('xml15', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_xml15_encounter_id'))

    op.drop_table('xml15')
    with op.batch_alter_table('xml14', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_xml14_encounter_id'))

    op.drop_table('xml14')
    with op.batch_alter_table('xml13', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_xml13_encounter_id'))

    op.drop_table('xml13')
    with op.batch_alter_table('xml12', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_xml12_encounter_id'))

    op.drop_table('xml12')
    with op.batch_alter_table('xml11', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_xml11_encounter_id'))

    op.drop_table('xml11')
    with op.batch_alter_table('xml10', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_xml10_encounter_id'))

    op.drop_table('xml10')
    with op.batch_alter_table('xml1', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_xml1_encounter_id'))

    op.drop_table('xml1')
    with op.batch_alter_table('validation_issue', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_validation_issue_submission_id'))
        batch_op.drop_index(batch_op.f('ix_validation_issue_encounter_id'))
        batch_op.drop_index(batch_op.f('ix_validation_issue_code'))

    op.drop_table('validation_issue')
    with op.batch_alter_table('encounter', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_encounter_submission_id'))
        batch_op.drop_index('ix_encounter_key')

    op.drop_table('encounter')
    with op.batch_alter_table('submission', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_submission_sha256'))

    op.drop_table('submission')
    op.drop_table('facility')
    with op.batch_alter_table('api_key', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_key_prefix'))

    op.drop_table('api_key')
