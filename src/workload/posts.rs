//! Social-media posts with hashtags, like the lecture's posts tagged `#VIU`.
//!
//! Line format: free text, optionally starting with `USER:`; every word starting with `#` is a hashtag,
//! for example `user17: great lecture today #VIU #spark`.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{mix, Workload};
use crate::parse::FromLine;

/// The hashtags the generator uses; `VOCABULARY[0]` is `VIU`.
pub const VOCABULARY: [&str; 16] = [
    "VIU",
    "spark",
    "flink",
    "rust",
    "streaming",
    "bigdata",
    "kafka",
    "timely",
    "ml",
    "cloud",
    "latency",
    "dataflow",
    "java",
    "python",
    "scala",
    "sql",
];

/// A hashtag: an index into [`VOCABULARY`], or for other tags a hash of their text with the top bit set.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct Tag(pub u32);

impl Tag {
    /// `#VIU`.
    pub const VIU: Tag = Tag(0);

    /// The tag for `name` (without `#`); tags are case-sensitive, as on the platforms they come from.
    pub fn named(name: &str) -> Tag {
        match VOCABULARY.iter().position(|v| *v == name) {
            Some(i) => Tag(i as u32),
            None => {
                // FNV-1a: stable across runs and processes.
                let h = name.bytes().fold(0x811c_9dc5u32, |h, b| {
                    (h ^ b as u32).wrapping_mul(0x0100_0193)
                });
                Tag(h | 0x8000_0000)
            }
        }
    }
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match VOCABULARY.get(self.0 as usize) {
            Some(name) => write!(f, "#{name}"),
            None => write!(f, "#tag-{:08x}", self.0),
        }
    }
}

/// The most hashtags a post keeps.
pub const MAX_TAGS: usize = 4;

/// A post: who wrote it and its hashtags (kept inline, without allocation).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Post {
    /// Position in the generated stream (0 for posts read from text).
    pub seq: u64,
    /// Who posted it.
    pub user: u32,
    tags: [Tag; MAX_TAGS],
    tag_count: u8,
}

impl Post {
    /// A post by `user` with `tags` (duplicates and tags past [`MAX_TAGS`] are dropped).
    pub fn new(seq: u64, user: u32, tags: impl IntoIterator<Item = Tag>) -> Post {
        let mut post = Post {
            seq,
            user,
            ..Post::default()
        };
        for tag in tags {
            if post.tag_count as usize == MAX_TAGS {
                break;
            }
            if !post.has_tag(tag) {
                post.tags[post.tag_count as usize] = tag;
                post.tag_count += 1;
            }
        }
        post
    }

    /// The post's hashtags.
    pub fn tags(&self) -> &[Tag] {
        &self.tags[..self.tag_count as usize]
    }

    /// Whether the post carries `tag`.
    pub fn has_tag(&self, tag: Tag) -> bool {
        self.tags().contains(&tag)
    }
}

impl fmt::Display for Post {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "user{}: post {}", self.user, self.seq)?;
        for tag in self.tags() {
            write!(f, " {tag}")?;
        }
        Ok(())
    }
}

impl FromLine for Post {
    fn from_line(line: &str) -> Result<Self, String> {
        let (user, text) = match line.split_once(':') {
            Some((head, rest)) if !head.contains(' ') => {
                let digits = head.trim_start_matches(|c: char| !c.is_ascii_digit());
                (digits.parse().unwrap_or(0), rest)
            }
            _ => (0, line),
        };
        let tags = text
            .split_whitespace()
            .filter_map(|w| w.strip_prefix('#'))
            .map(|t| t.trim_end_matches(|c: char| !c.is_alphanumeric() && c != '_'))
            .filter(|t| !t.is_empty())
            .map(Tag::named);
        Ok(Post::new(0, user, tags))
    }
}

/// Posts by `users` users, each with one to three hashtags; about one in `viu_one_in` is tagged `#VIU`.
#[derive(Clone, Debug)]
pub struct Posts {
    /// How many users post.
    pub users: u32,
    /// About one post in this many carries `#VIU`.
    pub viu_one_in: u32,
    /// The stream's seed.
    pub seed: u64,
}

impl Default for Posts {
    fn default() -> Self {
        Posts {
            users: 10_000,
            viu_one_in: 10,
            seed: 1,
        }
    }
}

impl Workload for Posts {
    type Record = Post;

    #[inline]
    fn record(&self, seq: u64) -> Post {
        let r = mix(self.seed, seq);
        let user = (r % self.users as u64) as u32;
        let first = if (r >> 20).is_multiple_of(self.viu_one_in as u64) {
            Tag::VIU
        } else {
            Tag(1 + ((r >> 28) % (VOCABULARY.len() as u64 - 1)) as u32)
        };
        let second = Tag(1 + ((r >> 36) % (VOCABULARY.len() as u64 - 1)) as u32);
        let third = Tag(1 + ((r >> 44) % (VOCABULARY.len() as u64 - 1)) as u32);
        let n = 1 + ((r >> 52) % 3) as usize;
        Post::new(seq, user, [first, second, third].into_iter().take(n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_hashtags_from_text() {
        let p = Post::from_line("user17: loving the #VIU lecture, #spark! #VIU").unwrap();
        assert_eq!(p.user, 17);
        assert_eq!(p.tags(), &[Tag::VIU, Tag::named("spark")]);
        assert!(!Post::from_line("#viu is not #VIU? no: lowercase")
            .unwrap()
            .tags()
            .is_empty());
        assert!(!Post::from_line("no tags here").unwrap().has_tag(Tag::VIU));
    }

    #[test]
    fn reads_what_it_prints() {
        let w = Posts::default();
        for seq in 0..50 {
            let p = w.record(seq);
            let back = Post::from_line(&p.to_string()).unwrap();
            assert_eq!((back.user, back.tags()), (p.user, p.tags()));
        }
    }

    #[test]
    fn about_one_in_ten_posts_is_tagged_viu() {
        let w = Posts::default();
        let viu = (0..10_000)
            .filter(|&s| w.record(s).has_tag(Tag::VIU))
            .count();
        assert!((800..1200).contains(&viu), "{viu}");
    }

    #[test]
    fn unknown_tags_are_stable_and_distinct_from_the_vocabulary() {
        assert_eq!(Tag::named("caudal"), Tag::named("caudal"));
        assert!(Tag::named("caudal").0 >= 0x8000_0000);
        assert_eq!(Tag::named("VIU").to_string(), "#VIU");
    }
}
