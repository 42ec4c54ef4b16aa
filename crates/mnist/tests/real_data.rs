//! Checks the shipped `data/mnist/` files against facts known about MNIST
//! (counts, shapes, first labels, class counts).

use mnist::{Mnist, find_data_dir};

fn mnist() -> Mnist {
    Mnist::load(&find_data_dir(None).expect("data/mnist ships with the repository")).unwrap()
}

#[test]
fn the_shipped_files_hold_what_mnist_should() {
    let m = mnist();
    assert_eq!(m.train.len(), 60_000);
    assert_eq!(m.test.len(), 10_000);
    assert_eq!(m.train.image(59_999).len(), 28 * 28);
    assert_eq!(&m.train.labels()[..10], &[5, 0, 4, 1, 9, 2, 1, 3, 1, 4]);
    assert_eq!(&m.test.labels()[..10], &[7, 2, 1, 0, 4, 1, 4, 9, 5, 9]);
    let mut counts = [0usize; 10];
    for &l in m.train.labels() {
        counts[l as usize] += 1;
    }
    assert_eq!(
        counts,
        [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    );
}

#[test]
fn the_validation_split_is_the_last_ten_thousand() {
    let m = mnist();
    let (train, validation) = m.train.split_at(50_000);
    assert_eq!((train.len(), validation.len()), (50_000, 10_000));
    assert_eq!(validation.image(0), m.train.image(50_000));
    assert_eq!(validation.labels()[9_999], m.train.labels()[59_999]);
}

#[test]
fn the_first_training_image_is_a_five_with_ink_in_the_middle() {
    let m = mnist();
    let x = m.train.first(1).images::<f64>();
    assert_eq!(x.shape(), (1, 784));
    // Background is 0, and the digit's ink is near the centre of the 28×28 grid.
    assert_eq!(x[(0, 0)], 0.0);
    let ink: f64 = x.iter().sum();
    assert!(ink > 50.0 && ink < 200.0, "total ink {ink}");
    assert!(x.iter().any(|&p| p == 1.0));
}
