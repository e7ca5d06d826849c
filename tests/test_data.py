"""Data sources and pipelines: shapes, ranges, determinism, epochs, processes, errors."""

import numpy as np
import pytest
import tensorflow_datasets as tfds
from PIL import Image

from jaxgan.data import pipeline, sources, toy2d
from jaxgan.errors import ConfigError, DataError
from tests.helpers import smoke_config


def _digits_batches(**kw):
  config = smoke_config()
  return pipeline.create_batches(
    config.data, global_batch=kw.pop('global_batch', 16), seed=kw.pop('seed', 0), **kw
  )


def test_digits_shape_and_range():
  source = sources.digits(32, 1)
  assert source.num_records == 1797
  records = source.take(range(10))
  x = records['image']
  assert x.shape == (10, 32, 32, 1) and x.dtype == np.float32
  assert x.min() >= -1.0 and x.max() <= 1.0 and x.min() < -0.9 and x.max() > 0.9
  assert records['label'].dtype == np.int32 and source.num_classes == 10
  assert set(source[0]) == {'image', 'label'}
  assert sources.digits(16, 3).take([0, 1])['image'].shape == (2, 16, 16, 3)
  with pytest.raises(IndexError):
    source[1797]


def test_batches_are_a_pure_function_of_seed_and_step():
  a, b = _digits_batches(), _digits_batches()
  np.testing.assert_array_equal(a.batch(7)['image'], b.batch(7)['image'])
  assert not np.array_equal(a.batch(7)['image'], a.batch(8)['image'])
  assert not np.array_equal(a.batch(7)['image'], _digits_batches(seed=1).batch(7)['image'])
  # iterate(start) yields exactly batch(start), batch(start + 1), ...
  it = a.iterate(5)
  for step in range(5, 9):
    np.testing.assert_array_equal(next(it)['image'], a.batch(step)['image'])
  it.close()


def test_digits_batches_carry_their_labels():
  from sklearn.datasets import load_digits

  batches = _digits_batches(global_batch=16)
  batch = batches.batch(3)
  assert batch['label'].shape == (16,) and batch['label'].dtype == np.int32
  np.testing.assert_array_equal(batch['label'], load_digits().target[batches.indices(3)])
  assert 'label' not in pipeline.create_batches(
    smoke_config('experiments/toy2d/ring.py').data, global_batch=8, seed=0
  ).batch(0)


def test_every_epoch_is_a_new_permutation():
  batches = _digits_batches(global_batch=599)  # 1797 = 3 * 599: epochs align with batches
  epoch = lambda e: np.concatenate([batches.indices(3 * e + i) for i in range(3)])
  first, second = epoch(0), epoch(1)
  assert sorted(first) == list(range(1797)) and sorted(second) == list(range(1797))
  assert not np.array_equal(first, second)


def test_num_examples_trains_on_one_fixed_subset_with_its_labels():
  """`data.num_examples=N`: every epoch is a permutation of the same N digits, whatever the
  seed, each with its own label; more than the source holds is a one-line error."""
  config = smoke_config()
  full = sources.digits(config.data.size, config.data.channels)
  config.data.num_examples = 100
  seen = {}
  for seed in (0, 1):
    batches = pipeline.create_batches(config.data, global_batch=50, seed=seed)
    images = np.concatenate([batches.batch(step)['image'] for step in range(4)])  # 2 epochs
    labels = np.concatenate([batches.batch(step)['label'] for step in range(4)])
    keys = [im.tobytes() for im in images]
    assert len(set(keys[:100])) == 100 and set(keys[:100]) == set(keys[100:])
    seen[seed] = set(keys[:100])
    by_image = {full[i]['image'].tobytes(): full[i]['label'] for i in range(full.num_records)}
    assert all(by_image[k] == label for k, label in zip(keys, labels, strict=True))
  assert seen[0] == seen[1]  # one subset for every training seed
  config.data.num_examples = 1798
  with pytest.raises(DataError, match='has 1797 records; use 1 to 1797'):
    pipeline.create_batches(config.data, global_batch=50, seed=0)


def test_processes_read_disjoint_slices_of_the_global_batch():
  whole = _digits_batches(global_batch=16)
  parts = [_digits_batches(global_batch=16, process_index=i, process_count=4) for i in range(4)]
  assert all(p.local_batch == 4 for p in parts)
  np.testing.assert_array_equal(np.concatenate([p.indices(3) for p in parts]), whole.indices(3))
  with pytest.raises(ConfigError, match='does not divide over 3 processes'):
    _digits_batches(global_batch=16, process_count=3)


def test_random_flip_is_deterministic():
  config = smoke_config()
  config.data.random_flip = True
  make = lambda: pipeline.create_batches(config.data, global_batch=32, seed=0)
  flipped, plain = make().batch(2)['image'], _digits_batches(global_batch=32).batch(2)['image']
  np.testing.assert_array_equal(flipped, make().batch(2)['image'])
  same = [np.array_equal(f, p) for f, p in zip(flipped, plain, strict=True)]
  mirrored = [np.array_equal(f, p[:, ::-1]) for f, p in zip(flipped, plain, strict=True)]
  assert all(s or m for s, m in zip(same, mirrored, strict=True)) and 0 < sum(mirrored) < 32


def test_toy2d_batches():
  config = smoke_config('experiments/toy2d/ring.py')
  batches = pipeline.create_batches(config.data, global_batch=64, seed=3)
  x = batches.batch(0)['image']
  assert x.shape == (64, 2) and x.dtype == np.float32
  np.testing.assert_array_equal(x, batches.batch(0)['image'])
  assert toy2d.mode_coverage(toy2d.ring(), x)['high_quality'] > 0.95


def test_toy2d_fixed_training_set_of_tuples_reshuffled_every_epoch():
  # PacGAN's code: 100,000 points drawn once, each pack slot a resample of them with
  # replacement, the tuples reshuffled every epoch. Here 60 tuples of 3, 20 per batch of 60 points.
  config = smoke_config('experiments/toy2d/ring.py')
  config.data.num_examples = 60
  batches = pipeline.create_batches(config.data, global_batch=60, seed=3, pack=3)
  assert batches.tuples.shape == (60, 3, 2)
  points = np.unique(batches.tuples.reshape(-1, 2), axis=0)
  assert len(points) < 60  # drawn with replacement from 60 points
  epoch = lambda e: np.concatenate([batches.batch(3 * e + i)['image'] for i in range(3)])
  first, second = epoch(0), epoch(1)
  assert first.shape == (180, 2) and first.dtype == np.float32
  rows = lambda x: sorted(map(tuple, x.reshape(-1, 6).tolist()))
  assert rows(first) == rows(second) == rows(batches.tuples)  # every tuple once an epoch
  assert not np.array_equal(first, second)
  again = pipeline.create_batches(config.data, global_batch=60, seed=3, pack=3)
  np.testing.assert_array_equal(again.batch(4)['image'], batches.batch(4)['image'])
  with pytest.raises(ConfigError, match='does not split into tuples of pack=7'):
    pipeline.create_batches(config.data, global_batch=60, seed=3, pack=7)


def _write_images(folder, n, size=(40, 30), mode='RGB', ext='png'):
  folder.mkdir(parents=True, exist_ok=True)
  rng = np.random.default_rng(0)
  for i in range(n):
    shape = (size[1], size[0], 3) if mode == 'RGB' else (size[1], size[0])
    Image.fromarray(rng.integers(0, 255, shape, dtype=np.uint8), mode).save(
      folder / f'img{i}.{ext}'
    )


def test_folder_source_converts_resizes_and_crops(tmp_path):
  _write_images(tmp_path / 'a', 3, (40, 30), 'RGB', 'png')
  _write_images(tmp_path / 'a' / 'nested', 2, (20, 64), 'L', 'jpg')
  source = sources.folder_source(str(tmp_path / 'a'), 16, 3)
  assert source.num_records == 5
  x = source.take(range(5))
  assert set(x) == {'image'} and source.num_classes == 0  # one sub-folder: unlabelled
  assert x['image'].shape == (5, 16, 16, 3) and x['image'].min() >= -1 and x['image'].max() <= 1
  grey = sources.folder_source(str(tmp_path / 'a'), 16, 1).take(range(5))['image']
  assert grey.shape == (5, 16, 16, 1)

  # Resized on the shorter side, then centre-cropped, pixel for pixel: grey 4x at column x
  # of a 64x32 image (and its transpose) halved to 32x16 is 8j + 2 at column j; its centre
  # 16 columns (8..23) hold 8k + 66. A crop from the corner would start at 2, one without
  # the resize at 96.
  (tmp_path / 'f').mkdir()
  ramp = np.tile((4 * np.arange(64)).astype(np.uint8), (32, 1))
  Image.fromarray(ramp, 'L').save(tmp_path / 'f' / 'wide.png')
  Image.fromarray(np.ascontiguousarray(ramp.T), 'L').save(tmp_path / 'f' / 'tall.png')
  expected = (8 * np.arange(16) + 66) / 127.5 - 1.0
  for channels in (1, 3):
    tall, wide = sources.folder_source(str(tmp_path / 'f'), 16, channels).take(range(2))['image']
    assert tall.shape == wide.shape == (16, 16, channels)
    np.testing.assert_allclose(
      wide, np.broadcast_to(expected[None, :, None], wide.shape), atol=1e-6
    )
    np.testing.assert_allclose(
      tall, np.broadcast_to(expected[:, None, None], tall.shape), atol=1e-6
    )


def test_a_tree_of_class_folders_gives_labels(tmp_path):
  for name, n in (('cat', 2), ('dog', 3)):
    _write_images(tmp_path / 'pets' / name, n)
  _write_images(tmp_path / 'pets' / 'dog' / 'puppies', 1)  # deeper images keep their class
  source = sources.folder_source(str(tmp_path / 'pets'), 16, 3)
  assert source.num_records == 6 and '2 classes' in source.description
  np.testing.assert_array_equal(np.sort(source.labels), [0, 0, 1, 1, 1, 1])
  config = smoke_config()
  config.data.source, config.data.path = 'folder', str(tmp_path / 'pets')
  batch = pipeline.create_batches(config.data, global_batch=4, seed=0).batch(0)
  assert batch['label'].shape == (4,) and set(batch['label']) <= {0, 1}
  # Images at the top level (or one sub-folder only): an unlabelled folder.
  _write_images(tmp_path / 'pets', 1)
  assert sources.folder_source(str(tmp_path / 'pets'), 16, 3).labels is None


def test_folder_errors(tmp_path):
  with pytest.raises(DataError, match='does not exist'):
    sources.folder_source(str(tmp_path / 'missing'), 16, 3)
  (tmp_path / 'empty').mkdir()
  (tmp_path / 'empty' / 'notes.txt').write_text('no images here')
  with pytest.raises(DataError, match='holds no images'):
    sources.folder_source(str(tmp_path / 'empty'), 16, 3)
  _write_images(tmp_path / 'bad', 2)
  (tmp_path / 'bad' / 'broken.png').write_bytes(b'not a png at all')
  with pytest.raises(DataError, match="cannot read image '.*broken.png'.*skip_bad_files=True"):
    sources.folder_source(str(tmp_path / 'bad'), 16, 3)
  _write_images(tmp_path / 'few', 3)
  config = smoke_config()
  config.data.source, config.data.path = 'folder', str(tmp_path / 'few')
  with pytest.raises(ConfigError, match='fewer records than one batch'):
    pipeline.create_batches(config.data, global_batch=8, seed=0)


@pytest.mark.parametrize(
  'name,size,channels', [('mnist', 28, 1), ('cifar10', 32, 3), ('celeb_a', 64, 3)]
)
def test_tfds_sources_under_mock_data(name, size, channels):
  with tfds.testing.mock_data(num_examples=12):
    source = sources.tfds_source(name, 'train', size, channels)
    x = source.take([0, 5, 11])['image']
  assert source.num_records == 12
  assert x.shape == (3, size, size, channels) and x.min() >= -1 and x.max() <= 1


def test_tfds_errors(tmp_path):
  with pytest.raises(DataError, match='must name a TFDS dataset'):
    sources.tfds_source('', 'train', 28, 1)
  with pytest.raises(DataError, match="cannot open TFDS dataset 'mnist'"):
    sources.tfds_source('mnist', 'train', 28, 1, data_dir=str(tmp_path))
  with tfds.testing.mock_data(num_examples=4), pytest.raises(DataError, match='no .label_img'):
    sources.tfds_source('mnist', 'train', 28, 1, image_key='label_img')[0]


def test_unknown_source():
  config = smoke_config()
  config.data.source = 'lmdb'
  with pytest.raises(
    ConfigError, match='known: digits, folder, mnist5k, stacked_mnist, tfds, toy2d'
  ):
    pipeline.create_batches(config.data, global_batch=8, seed=0)


def _class_folder(root, classes=('cat', 'dog'), per_class=8):
  for name in classes:
    _write_images(root / name, per_class, (20, 20), 'L', 'png')
  return root


def _label_config(kind, tmp_path):
  if kind == 'tfds':
    config = smoke_config('experiments/dcgan/mnist.py')
  else:
    config = smoke_config()
  if kind == 'folder':
    config.data.source, config.data.path = 'folder', str(_class_folder(tmp_path / 'pets'))
  config.train.num_steps = config.train.sample_every = config.train.checkpoint_every = 2
  return config


@pytest.mark.parametrize('kind', ['digits', 'tfds', 'folder'])
def test_labels_reach_the_step(kind, tmp_path, monkeypatch):
  """The labels of each source arrive in the batch the train step is traced with.

  Digits go through the whole trainer (sharding, the compiled step); mock-TFDS
  mnist and the class folder through the same pipeline into the step, traced
  by `jax.eval_shape` (the trainer's path is the same for every source).
  """
  import jax

  from jaxgan import games, train

  config, game, seen = _label_config(kind, tmp_path), games.get('gan'), []
  step_fn = game.step_fn

  def recording(config):
    step = step_fn(config)

    def traced(state, batch):
      seen.append({k: (v.shape, v.dtype) for k, v in batch.items()})
      return step(state, batch)

    return traced

  monkeypatch.setattr(game, 'step_fn', recording)
  with tfds.testing.mock_data(num_examples=16):
    batches = game.create_batches(config)
    batch = batches.batch(1)
    expected = [batches.source[i]['label'] for i in batches.indices(1)]
    if kind == 'digits':
      train.train_and_evaluate(config, str(tmp_path / 'w'))
    else:
      state = jax.eval_shape(lambda: game.create_state(config))
      jax.eval_shape(game.step_fn(config), state, batch)
  np.testing.assert_array_equal(batch['label'], expected)
  assert seen and seen[0]['label'] == ((8,), np.int32), seen
  assert batches.source.num_classes == {'digits': 10, 'tfds': 10, 'folder': 2}[kind]


def test_tfds_labels_off_or_absent():
  with tfds.testing.mock_data(num_examples=4):
    assert set(sources.tfds_source('mnist', 'train', 28, 1, label_key='')[0]) == {'image'}
    celeb = sources.tfds_source('celeb_a', 'train', 16, 3)  # no ClassLabel feature
  assert set(celeb[0]) == {'image'} and 'unlabelled' in celeb.description


def test_pairs_are_cropped_and_flipped_together():
  a = np.random.default_rng(0).uniform(-1, 1, (12, 20, 20, 3)).astype(np.float32)
  source = sources.array_source({'a': a, 'b': -a}, 'pairs')
  batches = pipeline.PairedBatches(source, seed=0, crop_size=16, random_flip=True, global_batch=12)
  batch = batches.batch(0)
  assert batch['a'].shape == batch['b'].shape == (12, 16, 16, 3)
  np.testing.assert_array_equal(batch['a'], -batch['b'])
  np.testing.assert_array_equal(batch['a'], batches.batch(0)['a'])
  # the crops differ between records: some image is not the top-left crop of its record
  originals = a[batches.indices(0)]
  assert any(not np.array_equal(x, o[:16, :16]) for x, o in zip(batch['a'], originals, strict=True))


def test_worker_processes_give_the_same_batches():
  """grain's mp_prefetch (config.data.workers) yields exactly the batches of the threads."""
  threads = _digits_batches(global_batch=8)
  workers = _digits_batches(global_batch=8)
  workers.workers = 1
  it = workers.iterate(3)
  for step in range(3, 6):
    np.testing.assert_array_equal(next(it)['image'], threads.batch(step)['image'])


def test_skip_bad_files_leaves_out_unreadable_and_truncated_images(tmp_path, caplog):
  _write_images(tmp_path / 'mixed', 3, (20, 20), 'RGB', 'jpg')
  (tmp_path / 'mixed' / 'notes.png').write_bytes(b'not an image')  # fails the header check
  noise = np.random.default_rng(1).integers(0, 255, (200, 200, 3), dtype=np.uint8)
  Image.fromarray(noise).save(tmp_path / 'whole.jpg')
  whole = (tmp_path / 'whole.jpg').read_bytes()
  (tmp_path / 'mixed' / 'torn.jpg').write_bytes(whole[: len(whole) // 2])  # fails to decode
  with pytest.raises(DataError, match='notes.png'):
    sources.folder_source(str(tmp_path / 'mixed'), 16, 3)
  source = sources.folder_source(str(tmp_path / 'mixed'), 16, 3, skip_bad=True)
  assert 'Skipped 1 unreadable image file(s) of 5' in caplog.text
  assert source.num_records == 4  # the torn JPEG's header reads: it fails only when decoded
  records = source.take(range(4))['image']
  assert records.shape == (4, 16, 16, 3) and 'torn.jpg' in caplog.text
  np.testing.assert_array_equal(records, source.take(range(4))['image'])  # same substitute
  (tmp_path / 'mixed' / 'notes.png').unlink()  # without skipping, the torn file fails when read
  with pytest.raises(DataError, match='torn.jpg.*truncated'):
    sources.folder_source(str(tmp_path / 'mixed'), 16, 3).take(range(4))
  (tmp_path / 'none').mkdir()
  (tmp_path / 'none' / 'a.png').write_bytes(b'no')
  with pytest.raises(DataError, match='none of the 1 image files is readable'):
    sources.folder_source(str(tmp_path / 'none'), 16, 3, skip_bad=True)


def test_mixed_sizes_and_modes_are_converted(tmp_path):
  """Grey, grey+alpha, RGBA, palette, 1-bit, CMYK and 16-bit images of any size, as documented."""
  rng = np.random.default_rng(0)
  rgb = Image.fromarray(rng.integers(0, 255, (30, 50, 3), dtype=np.uint8))
  folder = tmp_path / 'modes'
  folder.mkdir()
  rgb.convert('L').save(folder / 'grey.png')
  rgb.convert('LA').resize((17, 40)).save(folder / 'grey_alpha.png')
  rgb.convert('RGBA').resize((64, 64)).save(folder / 'rgba.png')
  rgb.convert('P').save(folder / 'palette.gif')
  rgb.convert('1').save(folder / 'bits.bmp')
  rgb.convert('CMYK').save(folder / 'cmyk.jpg')
  Image.fromarray(rng.integers(0, 65535, (20, 20), dtype=np.uint16)).save(folder / 'deep.png')
  for channels in (1, 3):
    x = sources.folder_source(str(folder), 16, channels).take(range(7))['image']
    assert x.shape == (7, 16, 16, channels) and x.dtype == np.float32
    assert np.isfinite(x).all() and x.min() >= -1.0 and x.max() <= 1.0
    assert len({float(im.std()) for im in x}) == 7  # each image converted, none blank-copied
